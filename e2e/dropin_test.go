package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommentBeforeEnv is the Dockerfile that once made sdkfront exit
// with a nil pointer in BuildKit's linter: it has no SDK line, so it is
// BuildKit's alone, and builds.
func TestCheckCommentBeforeEnv(t *testing.T) {
	df := "# syntax=" + lab.frontend + "\nFROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\nCOPY f /f\n"
	r := buildctl(t, project(t, df, map[string]string{"f": "ok\n"})).mustSucceed(t)
	if got := r.file(t, "f"); got != "ok\n" {
		t.Errorf("f = %q", got)
	}
	if strings.Contains(r.err, "LegacyKeyValueFormat") {
		t.Errorf("the skipped check still warned:\n%s", tail(r.err, 20))
	}
}

// checkDockerfile has an SDK line without a version, a directive in the
// wrong place, a BuildKit warning after an SDK line (whose rewrite is a line
// longer), and a build arg only an SDK line uses.
func checkDockerfile() string {
	return "# sdk-source=" + lab.registry + "/sdks/{platform}:{flavor}-{version}\n" + // 1
		"# syntax=" + lab.frontend + "\n" + // 2: hidden from BuildKit by line 1
		"FROM " + lab.registry + "/lab/busybox AS base\n" + // 3
		"ARG GO_VERSION=1.23\n" + // 4
		"SDK golang@${GO_VERSION}\n" + // 5
		"SDK nodejs --to=/opt/node\n" + // 6
		"FROM base as final\n" + // 7
		"RUN go version\n" // 8
}

// TestCallSubrequests: --call check, outline and targets answer from the
// Dockerfile alone (no tag listing, no SDK manifest), on the user's lines
// and text, with sdkfront's own checks among BuildKit's.
func TestCallSubrequests(t *testing.T) {
	dir := project(t, checkDockerfile(), map[string]string{})
	buildx := func(call string) result {
		// buildx reaches sdkfront through the gateway: line 2's syntax
		// directive is hidden from the daemon's own frontend by line 1.
		return run(t, "", "docker", "buildx", "build", "--builder", lab.builder, "--call", call,
			"--build-arg", "BUILDKIT_SYNTAX="+lab.frontend, dir)
	}
	log := markLog(t)
	chk := buildx("check")
	out := chk.String()
	for _, want := range []string{
		"WARNING: SDKDirectiveOrder - https://github.com/sdkfront/sdkfront/blob/main/docs/checks.md#sdkdirectiveorder",
		"the sdk-source directive stands before the syntax directive",
		"Dockerfile:1\n",
		"WARNING: SDKWithoutVersion - https://github.com/sdkfront/sdkfront/blob/main/docs/checks.md#sdkwithoutversion",
		"SDK nodejs names no version: it gets the default version",
		"Dockerfile:6\n",
		"   6 | >>> SDK nodejs --to=/opt/node",
		"WARNING: FromAsCasing",
		"Dockerfile:7\n",
		"   7 | >>> FROM base as final",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--call check output lacks %q:\n%s", want, tail(out, 60))
		}
	}
	if strings.Contains(out, "from=sdkfront-") || strings.Contains(out, "COPY --from") {
		t.Errorf("--call check shows the rewritten Dockerfile:\n%s", out)
	}
	if chk.failed == nil {
		t.Errorf("--call check exited 0 with warnings")
	}

	ol := buildx("outline").mustSucceed(t)
	if !strings.Contains(ol.out, "GO_VERSION") || !strings.Contains(ol.out, "1.23") {
		t.Errorf("--call outline does not list GO_VERSION (used by an SDK line):\n%s", ol.String())
	}
	tg := buildx("targets").mustSucceed(t)
	if !strings.Contains(tg.out, "base") || !strings.Contains(tg.out, "final") {
		t.Errorf("--call targets:\n%s", tg.String())
	}
	if reqs := log.requests(t, "/sdks/"); len(reqs) != 0 {
		t.Errorf("subrequests reached SDK repositories:\n%s", strings.Join(reqs, "\n"))
	}
}

// TestChecksWarnInBuilds: a build shows sdkfront's checks as warnings on
// the user's lines, like BuildKit's, on the same vertex. The warnings are
// read from the raw progress stream: buildctl's plain printer may drop the
// last status update of a build that ends right after its frontend.
func TestChecksWarnInBuilds(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang\nRUN go version\nFROM scratch as out\n")
	dir := project(t, df, map[string]string{})
	r := buildctl(t, dir, "--progress", "rawjson").mustSucceed(t)
	ws := rawWarnings(t, r.err)
	want := map[string]int32{
		"SDKWithoutVersion: SDK golang names no version: it gets the default version when the build runs, which changes when a new one is published; write golang@<version> (line 4)": 4,
		"FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 6)":                                                                                                        6,
	}
	vertices := map[string]bool{}
	for msg, line := range want {
		w, ok := ws[msg]
		if !ok {
			t.Errorf("no warning %q in %v", msg, ws)
			continue
		}
		vertices[w.Vertex] = true
		if len(w.Range) == 0 || w.Range[0].Start.Line != line || !strings.Contains(string(w.sourceData()), "SDK golang\n") {
			t.Errorf("warning %q: range %v, source %q", msg, w.Range, w.sourceData())
		}
	}
	if len(vertices) != 1 {
		t.Errorf("sdkfront's and BuildKit's warnings are on %d vertices, want 1", len(vertices))
	}
	// The check directive goes after the syntax one: a daemon older than
	// BuildKit v0.14 does not know "check", stops reading directives at it
	// and so never sees a syntax line below it (make matrix).
	syntax, rest, _ := strings.Cut(df, "\n")
	r = buildctl(t, project(t, syntax+"\n# check=error=true\n"+rest, map[string]string{})).mustFail(t)
	if !strings.Contains(r.err, "lint violation found for rules: SDKWithoutVersion, FromAsCasing\n") {
		t.Errorf("check=error=true did not fail on SDKWithoutVersion and FromAsCasing:\n%s", tail(r.err, 30))
	}
}

// TestLintFailureNamesEveryRule: under "# check=error=true" (which only
// sdkfront sees, below an sdk-* directive) a build and "--call check" fail
// naming sdkfront's rules and BuildKit's in one list, ordered by line,
// after showing each warning on the user's line.
func TestLintFailureNamesEveryRule(t *testing.T) {
	df := "# sdk-source=" + lab.registry + "/sdks/{platform}:{flavor}-{version}\n" + // 1: SDKDirectiveOrder
		"# check=error=true\n" + // 2
		"from " + lab.registry + "/lab/busybox\n" + // 3: ConsistentInstructionCasing
		"SDK golang@1.23.4\n" + // 4
		"SDK golang --to=/opt/go\n" + // 5: SDKWithoutVersion
		"RUN go version\n" + // 6
		"FROM scratch as out\n" // 7: FromAsCasing
	const want = "lint violation found for rules: SDKDirectiveOrder, ConsistentInstructionCasing, SDKWithoutVersion, FromAsCasing"
	lines := map[string]int32{"SDKDirectiveOrder": 1, "ConsistentInstructionCasing": 3, "SDKWithoutVersion": 5, "FromAsCasing": 7}
	dir := project(t, df, map[string]string{})

	r := buildctl(t, dir, "--frontend", "gateway.v0", "--opt", "source="+lab.frontend, "--progress", "rawjson").mustFail(t)
	if !strings.Contains(r.err, want+"\n") {
		t.Errorf("the build did not fail with %q:\n%s", want, tail(r.err, 8))
	}
	seen := map[string]bool{}
	for msg, w := range rawWarnings(t, r.err) {
		rule, _, _ := strings.Cut(msg, ":")
		line, ok := lines[rule]
		if !ok {
			t.Errorf("unexpected warning %q", msg)
			continue
		}
		seen[rule] = true
		if !strings.HasSuffix(msg, fmt.Sprintf("(line %d)", line)) || len(w.Range) == 0 || w.Range[0].Start.Line != line ||
			string(w.sourceData()) != df {
			t.Errorf("warning %q: range %v, want line %d of the user's Dockerfile", msg, w.Range, line)
		}
	}
	if len(seen) != len(lines) {
		t.Errorf("warned %v, want %v", seen, lines)
	}

	chk := run(t, "", "docker", "buildx", "build", "--builder", "sdkfront-lab", "--call", "check",
		"--build-arg", "BUILDKIT_SYNTAX="+lab.frontend, dir)
	out := chk.String()
	if chk.failed == nil || !strings.Contains(out, want+"\n") || !strings.Contains(out, "Check complete, 4 warnings have been found!") {
		t.Errorf("--call check did not fail with %q after 4 warnings:\n%s", want, tail(out, 60))
	}
	for rule, line := range lines {
		if !strings.Contains(out, "WARNING: "+rule+" - ") || !strings.Contains(out, fmt.Sprintf("Dockerfile:%d\n", line)) {
			t.Errorf("--call check does not show %s at line %d:\n%s", rule, line, tail(out, 60))
		}
	}
}

type rawWarning struct {
	Vertex     string
	Short      []byte
	Range      []struct{ Start struct{ Line int32 } }
	SourceInfo *struct{ Data []byte }
}

func (w rawWarning) sourceData() []byte {
	if w.SourceInfo == nil {
		return nil
	}
	return w.SourceInfo.Data
}

// rawWarnings reads the warnings of a --progress rawjson stream by text.
func rawWarnings(t *testing.T, stream string) map[string]rawWarning {
	t.Helper()
	out := map[string]rawWarning{}
	for _, l := range strings.Split(stream, "\n") {
		var st struct{ Warnings []rawWarning }
		if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &st) != nil {
			continue
		}
		for _, w := range st.Warnings {
			out[string(w.Short)] = w
		}
	}
	return out
}

// TestDirectivesAnywhere: sdk-* directives may stand before BuildKit's;
// escape, check and syntax still apply.
func TestDirectivesAnywhere(t *testing.T) {
	src := "# sdk-source=" + lab.registry + "/sdks/{platform}:{flavor}-{version}\n"
	df := src + "# escape=`\n# check=skip=FromAsCasing\nFROM " + lab.registry + "/lab/busybox as base\n" +
		"SDK golang@1.23.4 `\n  --to=/go\nRUN mkdir /out && go version > /out/v && echo a `\n  b > /out/e\nFROM scratch\nCOPY --from=base /out /\n"
	r := buildctl(t, project(t, df, map[string]string{}), "--frontend", "gateway.v0", "--opt", "source="+lab.frontend).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	if got := r.file(t, "e"); got != "a b\n" {
		t.Errorf("the backtick escape was not applied: %q", got)
	}
	if strings.Contains(r.err, "FromAsCasing") {
		t.Errorf("# check=skip= after # sdk-source was ignored:\n%s", tail(r.err, 30))
	}
	// A syntax directive after sdk-source still picks the frontend.
	missing := lab.registry + "/no-such-frontend:1"
	r = buildctl(t, project(t, src+"# syntax="+missing+"\nFROM scratch\n", map[string]string{}),
		"--frontend", "gateway.v0", "--opt", "source="+lab.frontend).mustFail(t)
	if !strings.Contains(r.err, "no-such-frontend") {
		t.Errorf("# syntax= after # sdk-source was ignored:\n%s", tail(r.err, 20))
	}
}

// TestPerPlatformSDKs: one build for two platforms, each getting the SDK
// its own ${TARGETARCH} names, and the right variant of an index.
func TestPerPlatformSDKs(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		pushSDK(t, "sdks/xtool-"+arch+":bookworm-1.0.0", map[string]string{"bin/xtool": "xtool for " + arch + "\n"})
	}
	df := header("FROM scratch\nARG TARGETARCH\nSDK xtool-${TARGETARCH}@1.0.0 --to=/xtool\nSDK multi@1.0.0 --to=/multi\n")
	r := buildctl(t, project(t, df, map[string]string{}), "--opt", "platform=linux/amd64,linux/arm64").mustSucceed(t)
	for _, arch := range []string{"amd64", "arm64"} {
		if got := r.file(t, filepath.Join("linux_"+arch, "xtool/bin/xtool")); got != "xtool for "+arch+"\n" {
			t.Errorf("linux/%s got %q", arch, got)
		}
		var multi []string
		_ = filepath.Walk(filepath.Join(r.outDir, "linux_"+arch, "multi"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				dt, _ := os.ReadFile(p)
				multi = append(multi, string(dt))
			}
			return nil // a missing file shows in the check below
		})
		if s := strings.Join(multi, ""); !strings.Contains(s, arch) {
			t.Errorf("linux/%s got the index's %q", arch, s)
		}
	}
}
