package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/lock"
)

// sdkfrontCLI runs `sdkfront` (make cli) in dir and returns its output and
// exit code.
func sdkfrontCLI(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin("sdkfront"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("sdkfront %v: %v (build it with `make cli`)", args, err)
	return "", -1
}

// TestLockCLIAndFrozenBuild: `sdkfront lock` pins every SDK line against
// the real registry; a frozen build then uses the lock alone; an edited
// line makes --check and the frozen build fail, and locking again fixes it.
func TestLockCLIAndFrozenBuild(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nARG GO=1.23\nSDK golang@${GO}\n" +
		"RUN --mount=type=sdk,ref=python@3.11,target=/py mkdir /out && go version > /out/v && ls /py/bin > /out/py\n" + exportOut)
	dir := project(t, df, map[string]string{})
	out, code := sdkfrontCLI(t, dir, "lock")
	if code != 0 {
		t.Fatalf("sdkfront lock: exit %d\n%s", code, out)
	}
	for _, w := range []string{"golang@1.23 -> 1.23.4 (bookworm)", "python@3.11 -> 3.11.9 (bookworm)", "Dockerfile.sdk.lock"} {
		if !strings.Contains(out, w) {
			t.Errorf("sdkfront lock output lacks %q:\n%s", w, out)
		}
	}
	dt, err := os.ReadFile(filepath.Join(dir, "Dockerfile.sdk.lock"))
	if err != nil {
		t.Fatal(err)
	}
	lf, err := lock.Parse(dt)
	if err != nil {
		t.Fatalf("the lock does not parse: %v\n%s", err, dt)
	}
	if len(lf.SDKs) != 2 {
		t.Errorf("%d entries, want 2:\n%s", len(lf.SDKs), dt)
	}
	if out, code := sdkfrontCLI(t, dir, "lock", "--check"); code != 0 {
		t.Errorf("--check on a fresh lock: exit %d\n%s", code, out)
	}

	log := markLog(t)
	r := buildctl(t, dir, "--opt", "build-arg:SDK_LOCK=frozen").mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	if reqs := log.requests(t, "/tags/list"); len(reqs) != 0 {
		t.Errorf("a locked build listed tags:\n%s", strings.Join(reqs, "\n"))
	}
	for _, w := range []string{"[sdk] golang@1.23 -> 1.23.4 (bookworm, locked)", "[sdk] python@3.11 -> 3.11.9 (bookworm, locked)"} {
		if !strings.Contains(r.err, w) {
			t.Errorf("progress lacks %q", w)
		}
	}

	// An edited line: --check fails (exit 3), so does a frozen build;
	// locking again brings the lock back in line.
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Replace(df, "GO=1.23", "GO=1.22", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := sdkfrontCLI(t, dir, "lock", "--check"); code != 3 {
		t.Errorf("--check after an edit: exit %d, want 3\n%s", code, out)
	}
	buildctl(t, dir, "--opt", "build-arg:SDK_LOCK=frozen").mustFail(t)
	if out, code := sdkfrontCLI(t, dir, "lock"); code != 0 || !strings.Contains(out, "golang@1.22 -> 1.22.10") {
		t.Errorf("locking again: exit %d\n%s", code, out)
	}
	if out, code := sdkfrontCLI(t, dir, "lock", "--check"); code != 0 {
		t.Errorf("--check after locking again: exit %d\n%s", code, out)
	}
	r = buildctl(t, dir, "--opt", "build-arg:SDK_LOCK=frozen").mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.22.10") {
		t.Errorf("go version = %q", got)
	}
}
