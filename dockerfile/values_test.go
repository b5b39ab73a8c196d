package dockerfile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"
)

// controlChars are the C0 controls and DEL, with how errors write them.
func controlChars() map[string]string {
	out := map[string]string{"\x7f": `'\x7f'`}
	for c := 0; c < 0x20; c++ {
		out[string(rune(c))] = fmt.Sprintf(`'\x%02x'`, c)
	}
	return out
}

// lineOf is the line a located error points at, or 0.
func lineOf(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 0
}

// TestControlCharactersInEveryField: every control character in every
// field that reaches the rewrite, through a build arg, is refused with an
// error that names the field and the character, at the line.
func TestControlCharactersInEveryField(t *testing.T) {
	fields := []struct {
		name, line string // the line uses ${X}
		pre, post  string // X is pre + the character + post
		want       string // how the error begins, before the value
	}{
		{"SDK --to", "SDK golang@1.23 --to=${X}", "/go", "x", `SDK --to="/go`},
		{"SDK --flavor", "SDK golang@1.23 --flavor=${X}", "book", "worm", `SDK --flavor="book`},
		{"SDK reference", "SDK golang@${X}", "1.23", "", `SDK reference "golang@1.23`},
		{"mount target", "RUN --mount=type=sdk,ref=golang@1.23,target=${X} true", "/sdk", "true", `sdk mount target="/sdk`},
		{"mount source", "RUN --mount=type=sdk,ref=golang@1.23,target=/go,source=${X} true", "bin", "x", `sdk mount source="bin`},
		{"mount flavor", "RUN --mount=type=sdk,ref=golang@1.23,target=/go,flavor=${X} true", "book", "worm", `sdk mount flavor="book`},
		{"mount ref", "RUN --mount=type=sdk,ref=${X},target=/go true", "golang@1.23", "", `sdk mount ref="golang@1.23`},
	}
	what := map[string]string{
		"SDK --to": "a path", "mount target": "a path", "mount source": "a path",
		"SDK --flavor": "a flavor", "mount flavor": "a flavor",
		"SDK reference": "an SDK reference", "mount ref": "an SDK reference",
	}
	for _, fl := range fields {
		for c, lit := range controlChars() {
			t.Run(fmt.Sprintf("%s/%s", fl.name, lit), func(t *testing.T) {
				df := "FROM busybox\nARG X\n" + fl.line + "\n"
				_, err := scanString(df, map[string]string{"X": fl.pre + c + fl.post})
				if err == nil {
					t.Fatal("accepted")
				}
				want := fmt.Sprintf("character %s is not allowed in %s", lit, what[fl.name])
				if msg := err.Error(); !strings.HasPrefix(msg, fl.want) || !strings.Contains(msg, want) || strings.ContainsRune(msg, rune(c[0])) {
					t.Errorf("error %q does not begin %q and say %q, in printable text", msg, fl.want, want)
				}
				if l := lineOf(err); l != 3 {
					t.Errorf("error at line %d, want 3", l)
				}
			})
		}
	}
}

// TestControlCharactersInResolvedValues: the version the registry or the
// lockfile gives, the platform the lockfile gives, and a version file's
// content, with any control character, are refused with errors that name
// them and the character; Bind's at the SDK's line.
func TestControlCharactersInResolvedValues(t *testing.T) {
	sr := mustScan(t, "FROM busybox\nARG V\nSDK golang@1.23\nSDK python@file:.python-version\n", nil)
	sdk, fromFile := sr.Uses[0], sr.Uses[1]
	for c, lit := range controlChars() {
		for _, bad := range []struct{ what, platform, version string }{
			{"version", "golang", "1.23.4" + c + "x"},
			{"platform", "go" + c + "lang", "1.23.4"},
		} {
			_, err := Bind(sdk, bad.platform, bad.version, "the lockfile")
			v := bad.version
			if bad.what == "platform" {
				v = bad.platform
			}
			want := fmt.Sprintf(`SDK golang@1.23: %s %s: character %s is not allowed in a directory name`, bad.what, shown(v), lit)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "it comes from the lockfile") {
				t.Errorf("Bind(%q, %q) = %v, want %q", bad.platform, bad.version, err, want)
			} else if l := lineOf(err); l != 3 {
				t.Errorf("Bind error at line %d, want 3", l)
			}
		}
		err := fromFile.SetConstraint("3.11" + c + "9")
		want := "version " + shown("3.11"+c+"9") + " read from .python-version: character " + lit + " is not allowed in a version constraint"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("SetConstraint = %v, want %q", err, want)
		}
	}
	// A valid version still binds, to its own directory.
	b, err := Bind(sdk, "golang", "1.23.4", "the registry")
	if err != nil || b.Dest.String() != "/opt/golang/1.23.4" || b.Context.String() != "sdkfront-0-layer" {
		t.Errorf("Bind = %+v, %v", b, err)
	}
}

// TestAllowLists: what each value's allow-list takes and refuses, and how
// it says so.
func TestAllowLists(t *testing.T) {
	paths := []struct{ in, err string }{
		{"/opt/go", ""},
		{"/", ""},
		{"/a-b_c.d+e@f~g/1.23.4", ""},
		{"", "must not be empty"},
		{"opt/go", "must be an absolute path"},
		{"/opt/go/", "is not clean: write /opt/go"},
		{"/opt/../etc", "is not clean: write /etc"},
		{"/my go", `character ' ' is not allowed in a path (allowed: letters, digits and / . _ - + @ ~)`},
		{"/a\u2028b", `character '\u2028' is not allowed in a path`},
		{"/a\u0085b", `character '\u0085' is not allowed in a path`},
		{"/a\u00a0b", `character '\u00a0' is not allowed in a path`},
		{"/a\xffb", `character '\xff' is not allowed in a path`},
		{"/a'b", `character '\'' is not allowed in a path`},
		{`/a\b`, `character '\\' is not allowed in a path`},
		{"/a(b)", `character '(' is not allowed in a path`},
		{"/a${X}", `character '$' is not allowed in a path`},
		{"/a,b", `character ',' is not allowed in a path`},
		{`/a"b`, `character '"' is not allowed in a path`},
		{"/a`b", "character '`' is not allowed in a path"},
		{"/a*", "character '*' is not allowed in a path"},
	}
	for _, c := range paths {
		p, err := NewAbsPath(c.in)
		switch {
		case c.err == "" && (err != nil || p.String() != c.in):
			t.Errorf("NewAbsPath(%q) = %q, %v", c.in, p, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("NewAbsPath(%q) = %q, %v; want an error saying %q", c.in, p, err, c.err)
		}
	}
	if _, err := NewSubPath("bin/go"); err != nil {
		t.Errorf("NewSubPath(bin/go): %v", err)
	}
	for _, c := range []struct{ platform, version, err string }{
		{"golang", "1.23.4", ""},
		{"dotnet", "8.0.404_8.0.11", ""},
		{"golang", "..", `version "..": is not a directory name`},
		{"golang", "1.2/../../etc", `version "1.2/../../etc": character '/' is not allowed in a directory name`},
		{"golang", "", `version "": is empty`},
		{"go lang", "1", `platform "go lang": character ' ' is not allowed`},
	} {
		d, err := DefaultDir(c.platform, c.version)
		switch {
		case c.err == "" && (err != nil || d.String() != "/opt/"+c.platform+"/"+c.version):
			t.Errorf("DefaultDir(%q, %q) = %q, %v", c.platform, c.version, d, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("DefaultDir(%q, %q) = %q, %v; want %q", c.platform, c.version, d, err, c.err)
		}
	}
	for _, c := range []struct{ in, err string }{
		{"bookworm", ""}, {"alpine3.19", ""}, {"ubuntu_24.04", ""},
		{"bookworm-slim", `SDK --flavor="bookworm-slim": character '-' is not allowed in a flavor (allowed: letters, digits, _ and ., not first)`},
		{".hidden", `SDK --flavor=".hidden": character '.' is not allowed in a flavor's first character`},
		{"a/b", `character '/' is not allowed in a flavor`},
	} {
		err := checkFlavor("SDK --flavor", c.in)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("flavor %q: %v, want %q", c.in, err, c.err)
		}
	}
}

// TestShownValues: long values are cut, and every value is printable ASCII.
func TestShownValues(t *testing.T) {
	long := strings.Repeat("/abcdefgh", 10)
	if got, want := shown(long), `"`+long[:40]+`…"`; got != want {
		t.Errorf("shown(long) = %s, want %s", got, want)
	}
	if got := shown("a\u2028\x00\"b"); got != `"a\u2028\x00\"b"` {
		t.Errorf("shown = %s", got)
	}
}

// TestNamingContract: the names the rewrite and the frontend agree on.
func TestNamingContract(t *testing.T) {
	c := SDKContext(3, TreeContext)
	if c.String() != "sdkfront-3-tree" || c.Option() != "context:sdkfront-3-tree" || c.Input(1) != "sdkfront-3-tree-1" ||
		c.PlatformOption(arm64) != "context:sdkfront-3-tree::linux/arm64" || c.check() != nil {
		t.Errorf("context %q: %q %q %q", c, c.Option(), c.Input(1), c.PlatformOption(arm64))
	}
	if l := SDKContext(0, LayerContext); l.String() != "sdkfront-0-layer" {
		t.Errorf("layer context %q", l)
	}
	if (ContextName{"sdkfront-1-tree\nRUN x"}).check() == nil || (ContextName{}).check() == nil {
		t.Error("a context name made by hand passes the emitter's check")
	}
	sr := mustScan(t, "FROM busybox\nSDK golang@1.23 --to=/go\nRUN --mount=type=sdk,ref=nodejs@20,target=/n true\nRUN --mount=type=sdk,ref=nodejs@20,target=/n,unpack=false true\n", nil)
	for i, want := range []string{"sdkfront-0-layer", "sdkfront-1-tree", "sdkfront-2-layer"} {
		if got := SDKContext(sr.Uses[i].Index, KindOf(sr.Uses[i])).String(); got != want {
			t.Errorf("use %d: context %s, want %s", i, got, want)
		}
	}
}

// TestEmitRefusesHandMadeValues: a value that did not come from its
// constructor is checked again when it is written.
func TestEmitRefusesHandMadeValues(t *testing.T) {
	good := Binding{Context: SDKContext(0, LayerContext), Dest: AbsPath{"/go"}}
	bad := []Binding{
		{Context: SDKContext(0, LayerContext), Dest: AbsPath{"/go\"\nRUN x"}},
		{Context: SDKContext(0, LayerContext)},
		{Context: ContextName{"evil.example/pwn"}, Dest: AbsPath{"/go"}},
		{Context: SDKContext(0, LayerContext), Dest: AbsPath{"/go"}, Keep: []VarName{{"A}\nRUN x"}}},
	}
	for _, b := range bad {
		if s, err := copyInstruction(b); err == nil {
			t.Errorf("COPY for %+v: %q", b, s)
		}
		if s, err := pathEnvInstruction(b); err == nil {
			t.Errorf("ENV for %+v: %q", b, s)
		}
		if s, err := bindMountFlag(b, SubPath{}); err == nil {
			t.Errorf("mount for %+v: %q", b, s)
		}
	}
	if s, err := bindMountFlag(good, SubPath{"bin,source=/etc"}); err == nil {
		t.Errorf("mount with a hand-made source: %q", s)
	}
	cp, err1 := copyInstruction(good)
	env, err2 := pathEnvInstruction(good)
	fl, err3 := bindMountFlag(good, SubPath{"bin"})
	if cp != `COPY --from=sdkfront-0-layer ["/*","/go/"]` || env != `ENV PATH="/go/bin:${PATH:-`+defaultPath+`}"` ||
		fl != "--mount=type=bind,from=sdkfront-0-layer,target=/go,source=bin" || err1 != nil || err2 != nil || err3 != nil {
		t.Errorf("emitted %q, %q, %q (%v %v %v)", cp, env, fl, err1, err2, err3)
	}
}

// TestPlaceholders: a check request's binding keeps the line's variables,
// each once as ${NAME}, and a range constraint goes to a default
// directory.
func TestPlaceholders(t *testing.T) {
	df := "FROM busybox\nARG V F\nSDK golang@${V:-1.23} --flavor=${F}\nRUN --mount=type=sdk,ref=nodejs@$V,target=/n,source=${F:-$V} true\nSDK \"dotnet@>=8 <9\"\n"
	f, err := Read([]byte(df))
	if err != nil {
		t.Fatal(err)
	}
	sr, err := f.Scan(ScanOpts{Build: amd64, Target: amd64, BuildArgs: map[string]string{"V": "1.23", "F": "bookworm"}})
	if err != nil {
		t.Fatal(err)
	}
	rw, err := f.Rewrite(sr.Uses, Placeholder)
	if err != nil {
		t.Fatal(err)
	}
	want := `FROM busybox
ARG V F
COPY --from=sdkfront-0-layer ["/*","/${V}","/${F}","/opt/golang/1.23/"]
ENV PATH="/opt/golang/1.23/bin:${PATH:-` + defaultPath + `}"
RUN --mount=type=bind,from=sdkfront-1-tree,target=/n,source=/${V}/${F} true
COPY --from=sdkfront-2-layer ["/*","/opt/dotnet/default/"]
ENV PATH="/opt/dotnet/default/bin:${PATH:-` + defaultPath + `}"
`
	if string(rw.Data) != want {
		t.Errorf("placeholder rewrite:\n%s\nwant:\n%s", rw.Data, want)
	}
	checkRewrite(t, f, sr.Uses, Placeholder, rw)
}
