package dockerfile

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// These tests run the same table through sdkfront's Scan and through
// BuildKit's own converter (dockerfile2llb), so that a BuildKit upgrade that
// changes how build args expand, which automatic args it defines, or which
// parser directives it reads fails here rather than silently.

var (
	arm64v8 = ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	armv7   = ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
)

// parityCase is a Dockerfile whose last stage holds the marker @@ where a
// reference stands; Scan sees "SDK <ref>" there and BuildKit's converter
// "LABEL sdkref=<ref>", which it expands at conversion time with the same
// variables a RUN would see.
type parityCase struct {
	name      string
	df        string
	ref       string
	buildArgs map[string]string
	build     ocispecs.Platform
	target    ocispecs.Platform
	stage     string
}

func parityCases() []parityCase {
	var cs []parityCase
	add := func(name, df, ref string, args map[string]string) {
		cs = append(cs, parityCase{name: name, df: df, ref: ref, buildArgs: args, build: amd64, target: amd64})
	}
	add("global arg undeclared in stage", "ARG V=1.2\nFROM scratch\n@@\n", "golang@3${V}", nil)
	add("global arg redeclared", "ARG V=1.2\nFROM scratch\nARG V\n@@\n", "golang@${V}", nil)
	add("build arg over global default", "ARG V=1.2\nFROM scratch\nARG V\n@@\n", "golang@${V}", map[string]string{"V": "1.4"})
	add("build arg over stage default", "FROM scratch\nARG V=1.2\n@@\n", "golang@${V}", map[string]string{"V": "1.5"})
	add("undeclared build arg", "FROM scratch\n@@\n", "golang@3${V}", map[string]string{"V": "1.5"})
	add("env over arg", "FROM scratch\nARG V=1.2\nENV V=1.6\n@@\n", "golang@${V}", map[string]string{"V": "1.5"})
	add("arg after env", "FROM scratch\nENV V=1.6\nARG V=1.2\n@@\n", "golang@${V}", nil)
	add("env inherited from stage", "FROM scratch AS a\nENV V=1.7\nFROM a\n@@\n", "golang@${V}", nil)
	add("arg not inherited from stage", "FROM scratch AS a\nARG V=1.7\nFROM a\n@@\n", "golang@3${V}", nil)
	add("env uses arg", "FROM scratch\nARG A=1\nENV V=${A}.8\n@@\n", "golang@${V}", map[string]string{"A": "2"})
	add("default form", "FROM scratch\nARG V\n@@\n", "golang@${V:-1.9}", nil)
	add("alternate form", "FROM scratch\nARG V=x\n@@\n", "golang@1${V:+.10}", nil)
	add("global arg from global arg", "ARG A=1\nARG V=${A}.11\nFROM scratch\nARG V\n@@\n", "golang@${V}", map[string]string{"A": "4"})
	add("env list", "FROM scratch\nENV A=1 V=2.1\n@@\n", "golang@${V}", nil)
	add("escape directive", "# escape=`\nFROM scratch\nARG V=1.12\n@@\n", "golang@${V}", nil)
	add("env pairs expand before any is set", "FROM scratch\nENV A=1 V=3${A}\n@@\n", "golang@${V}", nil)
	add("arg declared twice", "FROM scratch\nARG V=1.2\nARG V=1.3\n@@\n", "golang@${V}", nil)
	add("arg without value keeps env", "FROM scratch\nENV V=1.2\nARG V\n@@\n", "golang@${V}", nil)
	add("arg without value, build arg", "FROM scratch\nENV V=1.2\nARG V\n@@\n", "golang@${V}", map[string]string{"V": "1.4"})
	add("sbom scan arg", "FROM scratch\nARG BUILDKIT_SBOM_SCAN_STAGE=1\n@@\n", "golang@3${BUILDKIT_SBOM_SCAN_STAGE}", nil)
	add("suffix and prefix", "FROM scratch\nARG V=1.13.0\n@@\n", "golang@${V%.0}", nil)

	// The automatic args, for several build and target platforms and
	// target stages, each declared in the stage and overridden by a build
	// arg of the same name.
	autos := []string{"BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
		"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE"}
	for _, b := range []ocispecs.Platform{amd64, arm64v8} {
		for _, t := range []ocispecs.Platform{amd64, arm64, arm64v8, armv7, {OS: "windows", Architecture: "amd64"}} {
			for _, stage := range []string{"", "last", "first"} {
				for _, a := range autos {
					cs = append(cs, parityCase{
						name: fmt.Sprintf("%s build=%s target=%s stage=%q", a, b.Architecture, t.Architecture+t.Variant, stage),
						df:   "FROM scratch AS first\nFROM scratch AS last\nARG " + a + "\n@@\n",
						ref:  "tool-${" + a + "}@1", build: b, target: t, stage: stage,
					})
					cs = append(cs, parityCase{
						name: fmt.Sprintf("%s overridden", a),
						df:   "FROM scratch\nARG " + a + "\n@@\n",
						ref:  "tool-${" + a + "}@1", build: b, target: t,
						buildArgs: map[string]string{a: "over"},
					})
					cs = append(cs, parityCase{
						name: fmt.Sprintf("%s undeclared", a),
						df:   "FROM scratch\n@@\n",
						ref:  "tool-${" + a + "}@1", build: b, target: t,
					})
				}
			}
		}
	}
	return cs
}

func TestScanExpandsLikeBuildKit(t *testing.T) {
	for _, c := range parityCases() {
		// BuildKit's converter, with "LABEL sdkref=<ref>".
		dt := []byte(strings.Replace(c.df, "@@", "LABEL sdkref="+c.ref, 1))
		stage := c.stage
		res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), dt, dockerfile2llb.ConvertOpt{
			Config: dockerui.Config{BuildArgs: c.buildArgs, Target: stage,
				BuildPlatforms: []ocispecs.Platform{c.build}, TargetPlatforms: []ocispecs.Platform{c.target}},
			TargetPlatform: &c.target,
		})
		if err != nil {
			t.Fatalf("%s: BuildKit: %v", c.name, err)
		}
		if stage == "first" {
			// The marker is in the last stage; with --target=first BuildKit
			// converts only the first: convert all and compare the last.
			continue
		}
		want := res.Image.Config.Labels["sdkref"]

		f, err := Read([]byte(strings.Replace(c.df, "@@", "SDK "+c.ref, 1)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s, err := f.Scan(ScanOpts{BuildArgs: c.buildArgs, Build: c.build, Target: c.target, TargetStage: stage})
		if err != nil {
			t.Fatalf("%s: Scan: %v", c.name, err)
		}
		if len(s.Uses) != 1 {
			t.Fatalf("%s: %d uses", c.name, len(s.Uses))
		}
		if got := s.Uses[0].RefText; got != want {
			t.Errorf("%s: Scan expands %q to %q, BuildKit to %q", c.name, c.ref, got, want)
		}
	}
}

// TestTargetStageLikeBuildKit: TARGETSTAGE in a stage that is not the last,
// built with --target naming it, the one case the table above skips.
func TestTargetStageLikeBuildKit(t *testing.T) {
	df := "FROM scratch AS first\nARG TARGETSTAGE\n@@\nFROM scratch AS last\n"
	for _, stage := range []string{"first"} {
		dt := []byte(strings.Replace(df, "@@", "LABEL sdkref=tool-${TARGETSTAGE}@1", 1))
		res, err := dockerfile2llb.Dockerfile2LLB(context.Background(), dt, dockerfile2llb.ConvertOpt{
			Config:         dockerui.Config{Target: stage, BuildPlatforms: []ocispecs.Platform{amd64}, TargetPlatforms: []ocispecs.Platform{amd64}},
			TargetPlatform: &amd64,
		})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Read([]byte(strings.Replace(df, "@@", "SDK tool-${TARGETSTAGE}@1", 1)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.Scan(ScanOpts{Build: amd64, Target: amd64, TargetStage: stage})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Uses[0].RefText, res.Image.Config.Labels["sdkref"]; got != want {
			t.Errorf("--target=%s: Scan gives %q, BuildKit %q", stage, got, want)
		}
	}
}

// TestDirectivesLikeBuildKit: buildkitDirectives is exactly the set of
// directives BuildKit's parser reads. The set is taken from BuildKit's
// source (validDirectives in parser/directives.go, in the module go.mod
// pins), and each key is confirmed by running BuildKit's DirectiveParser.
func TestDirectivesLikeBuildKit(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/buildkit").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list -m github.com/moby/buildkit: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "frontend/dockerfile/parser/directives.go"))
	if err != nil {
		t.Fatalf("BuildKit's directives source moved: %v", err)
	}
	block := regexp.MustCompile(`(?s)var validDirectives = map\[string\]struct\{\}\{(.*?)\n\}`).FindSubmatch(src)
	if block == nil {
		t.Fatal("BuildKit's parser/directives.go no longer has validDirectives")
	}
	consts := map[string]string{}
	for _, m := range regexp.MustCompile(`(key\w+)\s*=\s*"(\w+)"`).FindAllSubmatch(src, -1) {
		consts[string(m[1])] = string(m[2])
	}
	var theirs []string
	for _, m := range regexp.MustCompile(`(\w+):\s*\{\}`).FindAllSubmatch(block[1], -1) {
		k, ok := consts[string(m[1])]
		if !ok {
			t.Fatalf("validDirectives names %s, which is not a key constant", m[1])
		}
		theirs = append(theirs, k)
	}
	var ours []string
	for k := range buildkitDirectives {
		ours = append(ours, k)
	}
	slices.Sort(theirs)
	slices.Sort(ours)
	if !slices.Equal(ours, theirs) {
		t.Fatalf("buildkitDirectives = %v, BuildKit reads %v", ours, theirs)
	}
	for _, k := range append(theirs, DirectiveSource, DirectiveFlavor, "unknown") {
		var p parser.DirectiveParser
		ds, err := p.ParseAll([]byte("# " + k + "=x\nFROM scratch\n"))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if got := len(ds) == 1; got != buildkitDirectives[k] {
			t.Errorf("BuildKit's parser reads # %s=: %v, buildkitDirectives says %v", k, got, buildkitDirectives[k])
		}
	}
}
