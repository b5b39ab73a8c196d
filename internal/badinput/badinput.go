// Package badinput is the table of malformed or wrong Dockerfiles, build
// args and directives that sdkfront must refuse with a clear error at the
// right line. The frontend's unit tests run it against a stub gateway and
// the e2e suite through the real daemon, against registries holding the
// same SDKs (golang 1.22.10 and 1.23.4, python 3.11.9 and 3.12.7 for
// bookworm and 3.11.9 for bullseye, a broken image with two layers).
package badinput

import "strings"

// Case is one bad input.
type Case struct {
	Name string
	// Dockerfile is the whole file; {{SOURCE}} stands for the source
	// template of the registry under test.
	Dockerfile string
	Args       map[string]string // build args
	Context    map[string]string // files of the build context
	// Want are fragments the error must contain.
	Want []string
	// Line is the line the error points at; 0 for errors that are about
	// a build arg rather than a line.
	Line int
	// Registry says the error needs the registry's answer.
	Registry bool
}

// Text is the Dockerfile for a registry's source template.
func (c Case) Text(source string) string {
	return strings.ReplaceAll(c.Dockerfile, "{{SOURCE}}", source)
}

const (
	head   = "# sdk-source={{SOURCE}}\nFROM busybox\n"
	digest = "sha256:4f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c7a6d5b2e1f0c"
)

// line puts an SDK line (line 3) and a RUN after it.
func line(l string) string { return head + l + "\nRUN echo ran > /ran\n" }

// Cases is the table.
var Cases = []Case{
	// The SDK instruction.
	{Name: "SDK without a reference", Dockerfile: line("SDK"), Want: []string{"SDK takes exactly one reference, got 0"}, Line: 3},
	{Name: "two references", Dockerfile: line("SDK golang@1.23 python@3.11"), Want: []string{"SDK takes exactly one reference, got 2"}, Line: 3},
	{Name: "empty constraint", Dockerfile: line("SDK golang@"), Want: []string{`SDK reference "golang@" has an empty version`, "golang@default"}, Line: 3},
	{Name: "bad semver", Dockerfile: line("SDK golang@>>1.2"), Want: []string{`invalid version constraint ">>1.2"`}, Line: 3},
	{Name: "bad range operator", Dockerfile: line("SDK golang@~=1.2"), Want: []string{`invalid version constraint "~=1.2"`}, Line: 3},
	{Name: "unknown flag", Dockerfile: line("SDK golang@1.23 --into=/go"), Want: []string{`unknown SDK flag "--into"`, "--flavor, --to"}, Line: 3},
	{Name: "duplicate flag", Dockerfile: line("SDK golang@1.23 --to=/a --to=/b"), Want: []string{"SDK flag --to is given twice"}, Line: 3},
	{Name: "flag without a value", Dockerfile: line("SDK golang@1.23 --flavor"), Want: []string{`SDK flag "--flavor" needs a value`}, Line: 3},
	{Name: "relative --to", Dockerfile: line("SDK golang@1.23 --to=opt/go"), Want: []string{"SDK --to=opt/go must be an absolute path"}, Line: 3},
	{Name: "empty --to", Dockerfile: line("SDK golang@1.23 --to="), Want: []string{`SDK flag "--to=" needs a value`}, Line: 3},
	{Name: "empty --flavor", Dockerfile: line("SDK golang@1.23 --flavor="), Want: []string{`SDK flag "--flavor=" needs a value`}, Line: 3},
	{Name: "flavor with a dash", Dockerfile: line("SDK golang@1.23 --flavor=bookworm-slim"), Want: []string{`SDK --flavor="bookworm-slim": character '-' is not allowed in a flavor`}, Line: 3},
	{Name: "--to from a build arg with a newline", Dockerfile: head + "ARG DIR\nSDK golang@1.23 --to=${DIR}\nRUN echo ran > /ran\n", Args: map[string]string{"DIR": "/go\nRUN echo pwned > /pwned"}, Want: []string{`SDK --to="/go\nRUN echo pwned > /pwned": character '\x0a' is not allowed in a path (allowed: letters, digits and / . _ - + @ ~)`}, Line: 4},
	{Name: "reference from a build arg with a newline", Dockerfile: head + "ARG V\nSDK golang@${V}\nRUN echo ran > /ran\n", Args: map[string]string{"V": "1.23\nRUN echo pwned"}, Want: []string{`SDK reference "golang@1.23\nRUN echo pwned": character '\x0a' is not allowed in an SDK reference`}, Line: 4},
	{Name: "uppercase platform", Dockerfile: line("SDK Golang@1.23"), Want: []string{`invalid SDK platform "Golang"`}, Line: 3},
	{Name: "uppercase repository", Dockerfile: line("SDK reg.example/Sdks/golang@1.23"), Want: []string{`invalid repository "reg.example/Sdks/golang"`}, Line: 3},
	{Name: "repository with a tag", Dockerfile: line("SDK reg.example/sdks/golang:1.23"), Want: []string{`a repository takes a version after "@", not a tag after ":"`}, Line: 3},
	{Name: "digest", Dockerfile: line("SDK golang@" + digest), Want: []string{"not a digest", "sdkfront lock"}, Line: 3},
	{Name: "digest and constraint", Dockerfile: line("SDK reg.example/sdks/golang@1.23@" + digest), Want: []string{"not a digest"}, Line: 3},
	{Name: "bad characters", Dockerfile: line("SDK go!@1.23"), Want: []string{`invalid SDK platform "go!"`}, Line: 3},
	{Name: "no platform", Dockerfile: line("SDK @1.23"), Want: []string{`missing SDK platform or repository before "@"`}, Line: 3},
	{Name: "version arg expands to nothing", Dockerfile: head + "ARG V\nSDK golang@${V}\nRUN true\n", Want: []string{`"golang@" has an empty version`, "ARG"}, Line: 4},
	{Name: "platform arg expands to nothing", Dockerfile: head + "ARG P\nSDK ${P}@1.23\nRUN true\n", Want: []string{`missing SDK platform or repository before "@"`}, Line: 4},
	{Name: "undeclared arg", Dockerfile: "# sdk-source={{SOURCE}}\nARG V=1.23\nFROM busybox\nSDK golang@${V}\nRUN true\n", Want: []string{`"golang@" has an empty version`, "is its build arg declared (ARG) in this stage?"}, Line: 4},
	{Name: "build arg set to nothing", Dockerfile: head + "ARG V=1.23\nSDK golang@${V}\nRUN true\n", Args: map[string]string{"V": ""}, Want: []string{`"golang@" has an empty version`}, Line: 4},
	{Name: "SDK before FROM", Dockerfile: "# sdk-source={{SOURCE}}\nSDK golang@1.23\nFROM busybox\nRUN true\n", Want: []string{"SDK must follow a FROM"}, Line: 2},

	// RUN --mount=type=sdk.
	{Name: "mount without target", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23 go version"), Want: []string{"sdk mount needs target=<dir>"}, Line: 3},
	{Name: "mount without ref", Dockerfile: line("RUN --mount=type=sdk,target=/go go version"), Want: []string{"sdk mount needs ref=<platform>[@<version>]"}, Line: 3},
	{Name: "mount with an empty ref", Dockerfile: line("RUN --mount=type=sdk,ref=,target=/go go version"), Want: []string{"sdk mount needs ref="}, Line: 3},
	{Name: "unpack=maybe", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=/go,unpack=maybe true"), Want: []string{`sdk mount: unpack="maybe" is not a boolean`}, Line: 3},
	{Name: "rw mount", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=/go,rw true"), Want: []string{"sdk mounts are always read-only"}, Line: 3},
	{Name: "readonly=false", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=/go,readonly=false true"), Want: []string{"sdk mounts are always read-only (readonly=false)"}, Line: 3},
	{Name: "unknown mount option", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=/go,size=10 true"), Want: []string{`unknown sdk mount option "size"`}, Line: 3},
	{Name: "duplicate mount option", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=/a,dst=/b true"), Want: []string{"sdk mount option target is given twice"}, Line: 3},
	{Name: "relative mount target", Dockerfile: line("RUN --mount=type=sdk,ref=golang@1.23,target=go true"), Want: []string{"sdk mount target=go must be an absolute path"}, Line: 3},
	{Name: "mount target with a space", Dockerfile: line(`RUN --mount=type=sdk,ref=golang@1.23,"target=/my go" true`), Want: []string{`sdk mount target="/my go": character ' ' is not allowed in a path`}, Line: 3},
	{Name: "mount target from a build arg with control characters", Dockerfile: head + "ARG DIR\nRUN --mount=type=sdk,ref=golang@1.23.4,target=${DIR} go version\nRUN echo ran > /ran\n", Args: map[string]string{"DIR": "/sdk\vtrue\nCOPY\v--from=evil.example/pwn:latest\v/\v/\nRUN"}, Want: []string{`sdk mount target="/sdk\vtrue\nCOPY\v--from=evil.example/`, `character '\x0b' is not allowed in a path`}, Line: 4},
	{Name: "mount source from a build arg with a carriage return", Dockerfile: head + "ARG SRC\nRUN --mount=type=sdk,ref=golang@1.23.4,target=/go,source=${SRC} go version\nRUN echo ran > /ran\n", Args: map[string]string{"SRC": "bin\rRUN"}, Want: []string{`sdk mount source="bin\rRUN": character '\x0d' is not allowed in a path`}, Line: 4},
	{Name: "mount flavor from a build arg with a form feed", Dockerfile: head + "ARG F\nRUN --mount=type=sdk,ref=golang@1.23,target=/go,flavor=${F} true\nRUN echo ran > /ran\n", Args: map[string]string{"F": "book\fworm"}, Want: []string{`sdk mount flavor="book\fworm": character '\x0c' is not allowed in a flavor`}, Line: 4},
	{Name: "bad ref in a mount", Dockerfile: line("RUN --mount=type=sdk,ref=golang@>>1,target=/go true"), Want: []string{`invalid version constraint ">>1"`}, Line: 3},

	// Directives and build args.
	{Name: "source without {version}", Dockerfile: "# sdk-source=reg.example/sdks/{platform}:{flavor}\nFROM busybox\nSDK golang@1.23\n", Want: []string{"the tag part must contain {version} exactly once"}, Line: 1},
	{Name: "source with an unknown placeholder", Dockerfile: "# sdk-source=reg.example/sdks/{platform}:{os}-{version}\nFROM busybox\nSDK golang@1.23\n", Want: []string{"unknown placeholders"}, Line: 1},
	{Name: "source without {platform}", Dockerfile: "# sdk-source=reg.example/sdks:{flavor}-{version}\nFROM busybox\nSDK golang@1.23\n", Want: []string{"the repository part must contain {platform} exactly once"}, Line: 1},
	{Name: "unknown sdk directive", Dockerfile: "# sdk-flavr=bookworm\nFROM busybox\nSDK golang@1.23\n", Want: []string{`unknown parser directive "sdk-flavr"`, "sdk-source and sdk-flavor"}, Line: 1},
	{Name: "repeated sdk directive", Dockerfile: "# sdk-flavor=bookworm\n# sdk-flavor=bullseye\nFROM busybox\nSDK golang@1.23\n", Want: []string{"only one sdk-flavor parser directive can be used"}, Line: 2},
	{Name: "SDK_SOURCE malformed", Dockerfile: "FROM busybox\nSDK golang@1.23\n", Args: map[string]string{"SDK_SOURCE": "reg.example/sdks/{platform}"}, Want: []string{"build arg SDK_SOURCE", "missing the tag part"}},
	{Name: "SDK_LOCK unknown", Dockerfile: line("SDK golang@1.23"), Args: map[string]string{"SDK_LOCK": "maybe"}, Want: []string{"build arg SDK_LOCK=maybe: want frozen, off"}},

	// Versions from files.
	{Name: "version file outside the context", Dockerfile: line("SDK python@file:../.python-version"), Want: []string{"must be a path inside the context"}, Line: 3},
	{Name: "unknown version file", Dockerfile: line("SDK python@file:VERSION"), Want: []string{"sdkfront reads versions from .python-version"}, Line: 3},
	{Name: "missing version file", Dockerfile: line("SDK python@file:.python-version"), Want: []string{".python-version is not in the build context"}, Line: 3},
	{Name: "unparseable version file", Dockerfile: line("SDK nodejs@file:package.json"), Context: map[string]string{"package.json": `{"engines": {"node": true}}`}, Want: []string{"package.json: not valid JSON"}, Line: 3},

	// What the registry says.
	{Name: "flavor that does not exist", Dockerfile: line("SDK golang@1.23 --flavor=alpine"), Registry: true, Want: []string{`has no flavor "alpine"`, "available flavors: bookworm"}, Line: 3},
	{Name: "platform that does not exist", Dockerfile: line("SDK cobol@1"), Registry: true, Want: []string{`platform "cobol"`}, Line: 3},
	{Name: "misspelt platform", Dockerfile: line("SDK golnag@1.23"), Registry: true, Want: []string{`platform "golnag"; did you mean golang?`}, Line: 3},
	{Name: "version that does not exist", Dockerfile: line("SDK golang@1.99"), Registry: true, Want: []string{`no golang version matches "1.99"`, "nearest available:", "1.23.4"}, Line: 3},
	{Name: "exact version that does not exist", Dockerfile: line("SDK golang@1.23.99"), Registry: true, Want: []string{`no golang version matches "1.23.99"`, "1.23.4"}, Line: 3},
	{Name: "version in another flavor only", Dockerfile: line("SDK python@3.12 --flavor=bullseye"), Registry: true, Want: []string{`no python version matches "3.12" (flavor bullseye)`, "it exists for flavor bookworm"}, Line: 3},
	{Name: "image with two layers", Dockerfile: line("SDK broken@1.0.0"), Registry: true, Want: []string{"2 layers"}, Line: 3},
}
