package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// daemonVersion asks the daemon under test which BuildKit it is
// (`buildctl debug info`: "BuildKit: github.com/moby/buildkit v0.12.5 <rev>").
// make matrix runs the suite against several.
func daemonVersion(t *testing.T) *semver.Version {
	t.Helper()
	r := run(t, "", bin("buildctl"), "--addr", lab.addr, "debug", "info").mustSucceed(t)
	for _, l := range strings.Split(r.out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "BuildKit:" {
			v, err := semver.NewVersion(f[2])
			if err != nil {
				t.Fatalf("buildctl debug info: version %q: %v", f[2], err)
			}
			return v
		}
	}
	t.Fatalf("buildctl debug info names no BuildKit version:\n%s", r.String())
	return nil
}

// TestSymbolicChmod: BuildKit's LLB library never declares a symbolic
// --chmod, and a daemon before v0.17 ignores it and writes mode 0000. There
// the build must fail at the user's line and name the BuildKit version it
// needs; from v0.17 on it gives the mode asked for.
func TestSymbolicChmod(t *testing.T) {
	df := header("FROM scratch\nSDK multi@1.0.0 --to=/sdk\nCOPY --chmod=u+x f /f\n")
	dir := project(t, df, map[string]string{"f": "x\n"})
	v := daemonVersion(t)
	if v.LessThan(semver.MustParse("v0.17.0")) {
		r := buildctl(t, dir).mustFail(t)
		for _, want := range []string{
			"Dockerfile:5", ">>> COPY --chmod=u+x f /f",
			"a symbolic --chmod mode (u+x) needs BuildKit v0.17.0 or later", "capability file.copy.modestring",
		} {
			if !strings.Contains(r.err, want) {
				t.Errorf("BuildKit %s: the output lacks %q:\n%s", v, want, tail(r.err, 20))
			}
		}
		if strings.Contains(r.err, "rpc error") {
			t.Errorf("BuildKit %s: a raw gRPC error:\n%s", v, tail(r.err, 20))
		}
		return
	}
	r := buildctl(t, dir).mustSucceed(t)
	fi, err := os.Stat(filepath.Join(r.outDir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o744 {
		t.Errorf("BuildKit %s: /f has mode %v, want -rwxr--r-- (0644 plus u+x)", v, got)
	}
}
