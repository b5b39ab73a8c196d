package frontend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/subrequests/lint"
)

// lintDockerfile breaks two of sdkfront's rules and two of BuildKit's, and
// says "# check=error=true" where only sdkfront lets BuildKit see it.
const lintDockerfile = `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
# check=error=true
from busybox
SDK nodejs@20
SDK golang --to=/opt/go
RUN true
FROM scratch as final
`

// lintWarnings are lintDockerfile's warnings as a build shows them, by
// rule: the text and the user's line.
var lintWarnings = map[string]struct {
	msg  string
	line int32
}{
	"SDKDirectiveOrder":           {"SDKDirectiveOrder: the sdk-source directive stands before the check directive: BuildKit stops reading directives at the first one it does not know, so every frontend but sdkfront ignores check; move sdk-source below it (line 1)", 1},
	"ConsistentInstructionCasing": {"ConsistentInstructionCasing: Command 'from' should match the case of the command majority (uppercase) (line 3)", 3},
	"SDKWithoutVersion":           {"SDKWithoutVersion: SDK golang names no version: it gets the default version when the build runs, which changes when a new one is published; write golang@<version> (line 5)", 5},
	"FromAsCasing":                {"FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 7)", 7},
}

// lintFailure is lintDockerfile's failure: every rule, by line.
const lintFailure = "lint violation found for rules: SDKDirectiveOrder, ConsistentInstructionCasing, SDKWithoutVersion, FromAsCasing"

// TestLintFailureNamesEveryRule: under "# check=error=true" a build fails
// once BuildKit's builder has checked too, naming sdkfront's rules and
// BuildKit's in one list, in the same order every time, after warning each
// on the user's line, on one vertex.
func TestLintFailureNamesEveryRule(t *testing.T) {
	for i := range 5 { // BuildKit's own list comes in map order
		s, tags := sdkStub(lintDockerfile)
		wr := &warnRecorder{stubClient: s}
		_, err := build(context.Background(), wr, tags)
		if err == nil || err.Error() != lintFailure {
			t.Fatalf("run %d: error %v, want %q", i, err, lintFailure)
		}
		if i > 0 {
			continue
		}
		if len(wr.msgs) != len(lintWarnings) {
			t.Errorf("%d warnings, want %d: %q", len(wr.msgs), len(lintWarnings), wr.msgs)
		}
		for j, msg := range wr.msgs {
			rule, _, _ := strings.Cut(msg, ":")
			want, ok := lintWarnings[rule]
			if !ok || msg != want.msg {
				t.Errorf("warning %q, want %q", msg, want.msg)
				continue
			}
			if r := s.warnings[j].Range; len(r) != 1 || r[0].Start.Line != want.line || r[0].End.Line != want.line {
				t.Errorf("%s: range %v, want line %d", rule, r, want.line)
			}
			if string(s.warnings[j].SourceInfo.GetData()) != lintDockerfile {
				t.Errorf("%s: shows the source %q", rule, s.warnings[j].SourceInfo.GetData())
			}
		}
		if v := slices.Compact(slices.Collect(maps.Values(wr.vertices))); len(v) != 1 {
			t.Errorf("warnings on %d vertices, want 1", len(v))
		}
	}
}

// TestCheckCallFailureNamesEveryRule: "--call check" under
// "# check=error=true" fails as BuildKit's does, with the same list as a
// build, and lists every warning at the user's line.
func TestCheckCallFailureNamesEveryRule(t *testing.T) {
	s, _ := sdkStub(lintDockerfile)
	s.opts["requestid"] = lint.RequestLint
	var lr lint.LintResults
	res := callSubrequest(t, s, &lr)
	noSDKResolved(t, s)
	if lr.Error == nil || lr.Error.Message != lintFailure || len(lr.Error.Location.Ranges) != 0 {
		t.Errorf("build error %+v, want %q without a location", lr.Error, lintFailure)
	}
	got := map[string]int32{}
	for _, w := range lr.Warnings {
		if _, dup := got[w.RuleName]; dup || len(w.Location.Ranges) != 1 {
			t.Errorf("warning %+v: twice, or not one range", w)
			continue
		}
		got[w.RuleName] = w.Location.Ranges[0].Start.Line
		want := lintWarnings[w.RuleName]
		if detail := w.Detail + fmt.Sprintf(" (line %d)", got[w.RuleName]); want.msg != w.RuleName+": "+detail {
			t.Errorf("%s: detail %q, want the build's %q", w.RuleName, w.Detail, want.msg)
		}
	}
	for rule, want := range lintWarnings {
		if got[rule] != want.line {
			t.Errorf("%s at line %d, want %d (all: %v)", rule, got[rule], want.line, got)
		}
	}
	if string(res.Metadata["result.statuscode"]) != "1" {
		t.Errorf("status code %q, want 1", res.Metadata["result.statuscode"])
	}
}

// TestLintFailureEitherSide: the list names whichever side found
// something; a build without findings succeeds under error=true; the
// configuration (skip, error) applies to both sides, from the directive or
// from BUILDKIT_DOCKERFILE_CHECK; and a Dockerfile error beats the lint
// failure in "--call check", as it does in BuildKit's.
func TestLintFailureEitherSide(t *testing.T) {
	src := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\n"
	cases := []struct {
		name, df, arg string
		want          string // the failure; "" builds
	}{
		{"sdkfront's only", "# check=error=true\n" + src + "FROM busybox\nSDK golang\n", "",
			"lint violation found for rules: SDKWithoutVersion"},
		{"BuildKit's only", "# check=error=true\n" + src + "FROM busybox\nSDK golang@1.23.4\nFROM scratch as x\n", "",
			"lint violation found for rules: FromAsCasing"},
		{"no finding", "# check=error=true\n" + src + "FROM busybox\nSDK golang@1.23.4\nRUN true\n", "", ""},
		{"warnings only", lintDockerfile, "error=false", ""},
		{"skipped by the build arg", lintDockerfile, "error=true;skip=FromAsCasing,SDKDirectiveOrder",
			"lint violation found for rules: ConsistentInstructionCasing, SDKWithoutVersion"},
		{"skipped by the directive", "# check=error=true;skip=ConsistentInstructionCasing,SDKWithoutVersion\n" + src + lintDockerfile[len(src)+len("# check=error=true\n"):], "",
			"lint violation found for rules: FromAsCasing"},
	}
	for _, c := range cases {
		for _, req := range []string{"", lint.RequestLint} {
			s, tags := sdkStub(c.df)
			if c.arg != "" {
				s.opts[keyLintArg] = c.arg
			}
			if req == "" {
				_, err := build(context.Background(), s, tags)
				if got := fmt.Sprint(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
					t.Errorf("%s: build error %v, want %q", c.name, err, c.want)
				}
				if c.want == "" && s.finalDef() == nil {
					t.Errorf("%s: nothing was built", c.name)
				}
				continue
			}
			s.opts["requestid"] = req
			var lr lint.LintResults
			callSubrequest(t, s, &lr)
			got := ""
			if lr.Error != nil {
				got = lr.Error.Message
			}
			if got != c.want {
				t.Errorf("%s: --call check error %q, want %q", c.name, got, c.want)
			}
		}
	}

	s := newStub("# check=error=true\nFROM busybox\nSDK golang@\nFROM scratch as x\n", map[string]string{"requestid": lint.RequestLint})
	var lr lint.LintResults
	callSubrequest(t, s, &lr)
	if lr.Error == nil || !strings.Contains(lr.Error.Message, "empty version") || lr.Error.Location.Ranges[0].Start.Line != 3 {
		t.Errorf("build error %+v, want the empty version at line 3", lr.Error)
	}
}

func TestLintViolationOrder(t *testing.T) {
	cases := []struct {
		fs   []finding
		want string
	}{
		{nil, "<nil>"},
		{[]finding{{"B", 3}, {"A", 3}, {"C", 0}, {"B", 1}, {"A", 2}, {"D", 9}},
			"lint violation found for rules: C, B, A, D"},
		{[]finding{{"Same", 4}, {"Same", 4}}, "lint violation found for rules: Same"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(violation(c.fs)); got != c.want {
			t.Errorf("violation(%v) = %s, want %s", c.fs, got, c.want)
		}
	}
}

// TestLintBuilderOpts: the builder gets sdkfront's configuration without
// error=true, as text BuildKit parses back to the same rules.
func TestLintBuilderOpts(t *testing.T) {
	cases := []struct{ check, want string }{
		{"error=true", "error=false"},
		{"skip=SDKNotLocked, FromAsCasing;error=true;experimental=all", "error=false;skip=FromAsCasing,SDKNotLocked;experimental=all"},
		{"skip=all;error=true", "error=false;skip=all"},
		// Only the last part may hold ";": such names are no rule's.
		{"error=true;skip=a b,Good;experimental=x;y", "error=false;skip=Good"},
		{"skip=FromAsCasing", ""},
		{"", ""},
	}
	for _, c := range cases {
		cfg, err := linter.ParseLintOptions(c.check)
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		(&lintRun{lint: linter.New(cfg)}).builderOpts(opts)
		got, set := opts[keyLintArg]
		if got != c.want || set != (c.want != "") {
			t.Errorf("%q: builder gets %q (set %v), want %q", c.check, got, set, c.want)
		}
		if !set {
			continue
		}
		back, err := linter.ParseLintOptions(got)
		if err != nil || back.ReturnAsError || back.SkipAll != cfg.SkipAll || back.ExperimentalAll != cfg.ExperimentalAll {
			t.Errorf("%q parses back to %+v, %v", got, back, err)
		}
	}
	var none *lintRun
	opts := map[string]string{}
	none.builderOpts(opts)
	if len(opts) != 0 || none.err() != nil || none.warnings() != nil {
		t.Errorf("a nil lintRun changed the options or failed: %v", opts)
	}
}
