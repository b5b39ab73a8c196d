package dockerfile

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

func TestReadFindsSDKLinesOnly(t *testing.T) {
	cases := []struct {
		df           string
		sdk, stock   bool
		moved        bool
		firstBuildKt string // the first line of Text
	}{
		{"FROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\n", false, true, false, "FROM scratch"},
		{"FROM scratch\nENV foo\n", false, true, false, "FROM scratch"},
		{"FROM busybox\nRUN --mount=type=cache,target=/x true\n", false, true, false, "FROM busybox"},
		{"FROM busybox\nsdk golang@1\n", true, false, false, "FROM busybox"},
		{"FROM busybox\nRUN --mount=type=SDK,ref=golang,target=/g true\n", true, false, false, "FROM busybox"},
		{"# syntax=x\n# sdk-flavor=bullseye\nFROM busybox\n", false, true, false, "# syntax=x"},
		{"# sdk-flavor=bullseye\n# syntax=x\nFROM busybox\n", false, false, true, "# syntax=x"},
		{"# sdk-flavor=bullseye\n# check=error=true\nFROM busybox\nSDK golang@1\n", true, false, true, "# check=error=true"},
		{"FROM busybox\nRUN <<EOF\nSDK golang\nEOF\n", false, true, false, "FROM busybox"},
	}
	for _, c := range cases {
		f, err := Read([]byte(c.df))
		if err != nil {
			t.Fatalf("%q: %v", c.df, err)
		}
		if f.HasSDK() != c.sdk || f.Stock() != c.stock || f.Moved() != c.moved {
			t.Errorf("%q: sdk=%v stock=%v moved=%v, want %v %v %v", c.df, f.HasSDK(), f.Stock(), f.Moved(), c.sdk, c.stock, c.moved)
		}
		if first, _, _ := strings.Cut(string(f.Text), "\n"); first != c.firstBuildKt {
			t.Errorf("%q: Text starts with %q, want %q", c.df, first, c.firstBuildKt)
		}
		if !c.moved && string(f.Text) != c.df {
			t.Errorf("%q: Text changed although nothing moved", c.df)
		}
	}
}

// TestMovedDirectivesReachBuildKit: whatever the order of the directives,
// BuildKit's parser sees its own in Text, and line numbers map back.
func TestMovedDirectivesReachBuildKit(t *testing.T) {
	df := "# sdk-source=r/{platform}:{flavor}-{version}\n# escape=`\n# sdk-flavor=bullseye\n# check=skip=JSONArgsRecommended\n# syntax=docker/dockerfile:1\nFROM busybox\nRUN a `\n  b\n"
	f, err := Read([]byte(df))
	if err != nil {
		t.Fatal(err)
	}
	if f.AST == nil || f.AST.EscapeToken != '`' {
		t.Fatalf("escape directive not seen by BuildKit's parser: %+v", f.AST)
	}
	for key, want := range map[string]string{"check": "skip=JSONArgsRecommended", "syntax": "docker/dockerfile:1"} {
		v, _, _, ok := parser.ParseDirective(key, f.Text)
		if !ok || v != want {
			t.Errorf("BuildKit reads %s=%q (%v), want %q", key, v, ok, want)
		}
	}
	if d, ok := f.Directive(DirectiveFlavor); !ok || d.Value != "bullseye" || d.Line != 3 {
		t.Errorf("sdk-flavor = %+v", d)
	}
	// Text: escape, check, syntax, sdk-source, sdk-flavor, FROM, RUN...
	want := []int{2, 4, 5, 1, 3, 6, 7, 8}
	for i, w := range want {
		if got := f.UserLine(i + 1); got != w {
			t.Errorf("Text line %d maps to %d, want %d", i+1, got, w)
		}
	}
	if n := f.AST.AST.Children[1]; n.StartLine != 7 || n.EndLine != 8 {
		t.Errorf("RUN at lines %d-%d, want 7-8", n.StartLine, n.EndLine)
	}
}

func TestReadDirectiveErrors(t *testing.T) {
	cases := []struct{ df, want string }{
		{"# sdk-sorce=x/{platform}:{version}\nFROM a\n", `unknown parser directive "sdk-sorce"`},
		{"# sdk-flavor=a\n# sdk-flavor=b\nFROM a\n", "only one sdk-flavor parser directive"},
	}
	for i, c := range cases {
		_, err := Read([]byte(c.df))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.df, err, c.want)
			continue
		}
		var le *parser.LocationError
		if !errors.As(err, &le) || le.Locations[0][0].Start.Line != i+1 {
			t.Errorf("%q: error not at line %d: %+v", c.df, i+1, le)
		}
	}
}

// TestScanLeavesOtherInstructionsToBuildKit: an instruction sdkfront cannot
// interpret is BuildKit's to report, and a "# check=" comment before ENV or
// ARG (once a nil-pointer panic in BuildKit's linter) is no problem.
func TestScanLeavesOtherInstructionsToBuildKit(t *testing.T) {
	df := `FROM busybox
# check=skip=LegacyKeyValueFormat
ENV testkey value
# check=skip=SecretsUsedInArgOrEnv
ARG password=1
ARG
ENV V=1.2${
FROM ${UNCLOSED
SDK golang@1.23
`
	s := mustScan(t, df, nil)
	if len(s.Uses) != 1 || s.Uses[0].RefText != "golang@1.23" || s.Uses[0].Line() != 9 {
		t.Fatalf("uses = %+v", s.Uses)
	}
}

func TestScanPerTarget(t *testing.T) {
	df := `ARG V=1.0.0
FROM busybox AS build
ARG TARGETARCH TARGETVARIANT TARGETSTAGE TARGETOSVERSION BUILDOSVERSION TARGETPLATFORM V
SDK tool${TARGETARCH}${TARGETVARIANT}@${V} --flavor=${TARGETSTAGE}_${TARGETOSVERSION}${BUILDOSVERSION}
RUN --mount=type=sdk,ref=x@1,target=/sdk/${TARGETPLATFORM} true
FROM build AS final
`
	f, err := Read([]byte(df))
	if err != nil {
		t.Fatal(err)
	}
	armv7 := ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	win := ocispecs.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348"}
	cases := []struct {
		o                 ScanOpts
		ref, flavor, dest string
	}{
		{ScanOpts{Build: amd64, Target: amd64}, "toolamd64@1.0.0", "final_", "/sdk/linux/amd64"},
		{ScanOpts{Build: amd64, Target: armv7, TargetStage: "build"}, "toolarmv7@1.0.0", "build_", "/sdk/linux/arm/v7"},
		{ScanOpts{Build: win, Target: win, BuildArgs: map[string]string{"V": "2.0.0", "TARGETARCH": "x"}}, "toolx@2.0.0", "final_10.0.2034810.0.20348", "/sdk/windows(10.0.20348)/amd64"},
	}
	for _, c := range cases {
		s, err := f.Scan(c.o)
		if strings.Contains(c.dest, "(") {
			// A Windows platform with an OS version has parentheses,
			// which a path may not have.
			want := `sdk mount target="` + c.dest + `": character '(' is not allowed in a path`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%+v: error %v, want %q", c.o, err, want)
			}
			c.o.Lenient = true
			if s, err = f.Scan(c.o); err != nil {
				t.Fatal(err)
			}
			c.dest = ""
		} else if err != nil {
			t.Fatal(err)
		}
		u, m := s.Uses[0], s.Uses[1]
		if u.RefText != c.ref || u.Flavor != c.flavor || m.Dest.String() != c.dest {
			t.Errorf("%+v: ref=%q flavor=%q dest=%q, want %q %q %q", c.o, u.RefText, u.Flavor, m.Dest, c.ref, c.flavor, c.dest)
		}
		if u.Index != 0 || m.Index != 1 {
			t.Errorf("indexes %d %d", u.Index, m.Index)
		}
	}
}

func TestLenientScanKeepsGoing(t *testing.T) {
	df := "FROM busybox\nSDK\nSDK golang@1\nRUN --mount=type=sdk,target=/x true\nSDK nodejs --into=/x\n"
	f, _ := Read([]byte(df))
	if _, err := f.Scan(ScanOpts{Build: amd64, Target: amd64}); err == nil {
		t.Fatal("a strict scan accepted a bad line")
	}
	s, err := f.Scan(ScanOpts{Build: amd64, Target: amd64, Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Uses) != 4 || len(s.Errors) != 3 {
		t.Fatalf("%d uses and %d errors, want 4 and 3", len(s.Uses), len(s.Errors))
	}
	for i, bad := range []bool{true, false, true, true} {
		if s.Uses[i].Bad != bad {
			t.Errorf("use %d: bad=%v", i, s.Uses[i].Bad)
		}
	}
	// The stand-ins still rewrite, so that BuildKit can check the rest.
	rw, err := f.Rewrite(s.Uses, fakeBind)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rw.Data), "SDK") || strings.Contains(string(rw.Data), "type=sdk") {
		t.Errorf("SDK lines left in the rewrite:\n%s", rw.Data)
	}
}

type warning struct {
	rule string
	msg  string
	line int
}

func check(t *testing.T, df string, cfg linter.Config) []warning {
	t.Helper()
	f, err := Read([]byte(df))
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Scan(ScanOpts{Build: amd64, Target: amd64, Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []warning
	cfg.Warn = func(rule, _, url, msg string, loc []parser.Range) {
		if !strings.HasPrefix(url, DocsURL+"#") {
			t.Errorf("%s: URL %q", rule, url)
		}
		got = append(got, warning{rule, msg, loc[0].Start.Line})
	}
	f.Check(linter.New(&cfg), s.Uses)
	return got
}

func TestChecks(t *testing.T) {
	df := `# sdk-flavor=bullseye
# check=skip=JSONArgsRecommended
FROM busybox
SDK golang
SDK golang@latest --to=/go
SDK golang@1.23.4
RUN --mount=type=sdk,ref=nodejs,target=/n true
# check=skip=SDKWithoutVersion
SDK python@default
`
	got := check(t, df, linter.Config{})
	want := []warning{
		{"SDKDirectiveOrder", "the sdk-flavor directive stands before the check directive", 1},
		{"SDKWithoutVersion", "SDK golang names no version: it gets the default version", 4},
		{"SDKWithoutVersion", "SDK golang@latest names no version: it gets the latest version", 5},
		{"SDKWithoutVersion", "SDK nodejs names no version", 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].rule != w.rule || got[i].line != w.line || !strings.HasPrefix(got[i].msg, w.msg) {
			t.Errorf("warning %d = %+v, want %+v", i, got[i], w)
		}
	}
	if n := len(check(t, df, linter.Config{SkipRules: []string{"SDKWithoutVersion", "SDKDirectiveOrder"}})); n != 0 {
		t.Errorf("%d warnings with both rules skipped", n)
	}
	if n := len(check(t, df, linter.Config{SkipAll: true})); n != 0 {
		t.Errorf("%d warnings with skip=all", n)
	}
}
