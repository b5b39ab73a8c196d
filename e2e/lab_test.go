// Package e2e drives sdkfront through a real buildkitd and a real registry
// on loopback (the lab: `make test-e2e` starts it, seeds it and pushes the
// frontend image). Nothing is mocked here.
//
// The tests run only with SDKFRONT_LAB=1. In CI (CI set) a missing or dead
// lab is a failure, never a skip.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lab is what the tests need to know of the running lab.
type labEnv struct {
	registry string // 127.0.0.1:5000
	addr     string // buildkitd address, unix://...
	dir      string // the .lab directory
	frontend string // the frontend image
	builder  string // the docker buildx builder that points at addr
}

var lab labEnv

func TestMain(m *testing.M) {
	if os.Getenv("SDKFRONT_LAB") == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "e2e: SDKFRONT_LAB is not set, but this is CI: run the suite with `make test-e2e`, which starts the lab")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e: SKIPPED: SDKFRONT_LAB is not set; run `make test-e2e`")
		os.Exit(0)
	}
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the lab is not usable: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	lab = labEnv{
		registry: envOr("LAB_REGISTRY", "127.0.0.1:5000"),
		addr:     envOr("BUILDKIT_HOST", "unix://"+filepath.Join(root, ".lab/run/buildkitd.sock")),
		dir:      envOr("LAB_DIR", filepath.Join(root, ".lab")),
	}
	lab.frontend = envOr("SDKFRONT_IMAGE", lab.registry+"/sdkfront:dev")
	// make matrix points BUILDKIT_HOST at another daemon and names a
	// builder of its own for it.
	lab.builder = envOr("LAB_BUILDX_BUILDER", "sdkfront-lab")
	resp, err := http.Get("http://" + lab.registry + "/v2/")
	if err != nil {
		return fmt.Errorf("registry %s: %w", lab.registry, err)
	}
	resp.Body.Close()
	if out, err := exec.Command(bin("buildctl"), "--addr", lab.addr, "debug", "workers").CombinedOutput(); err != nil {
		return fmt.Errorf("buildkitd at %s: %w: %s", lab.addr, err, out)
	}
	if _, err := os.Stat(registryLog()); err != nil {
		return fmt.Errorf("registry access log: %w", err)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func bin(name string) string { return filepath.Join(lab.dir, "bin", name) }

func registryLog() string { return filepath.Join(lab.dir, "logs", "registry.log") }

// result is one buildctl or buildx run.
type result struct {
	out, err string // stdout, stderr (progress goes to stderr)
	outDir   string // the local output, if any
	failed   error
}

func (r result) String() string { return r.err + r.out }

// project is a throwaway build context with a Dockerfile.
func project(t *testing.T, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["Dockerfile"] = dockerfile
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildctl builds dir with the stock Dockerfile frontend (so "# syntax="
// picks sdkfront) unless args name another; the output goes to a local dir.
func buildctl(t *testing.T, dir string, args ...string) result {
	t.Helper()
	out := t.TempDir()
	full := []string{"--addr", lab.addr, "build", "--progress", "plain",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--output", "type=local,dest=" + out}
	if !hasFrontend(args) {
		full = append(full, "--frontend", "dockerfile.v0")
	}
	full = append(full, args...)
	return run(t, out, bin("buildctl"), full...)
}

func hasFrontend(args []string) bool {
	for _, a := range args {
		if a == "--frontend" {
			return true
		}
	}
	return false
}

func run(t *testing.T, outDir, name string, args ...string) result {
	if t != nil {
		t.Helper()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{out: stdout.String(), err: stderr.String(), outDir: outDir, failed: err}
}

func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.failed != nil {
		t.Fatalf("build failed: %v\n%s", r.failed, tail(r.String(), 60))
	}
	return r
}

func (r result) mustFail(t *testing.T) result {
	t.Helper()
	if r.failed == nil {
		t.Fatalf("build succeeded, want a failure\n%s", tail(r.String(), 40))
	}
	return r
}

func (r result) file(t *testing.T, name string) string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(r.outDir, name))
	if err != nil {
		t.Fatalf("output %s: %v\n%s", name, err, tail(r.String(), 30))
	}
	return string(dt)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// accessLog marks the registry log so that a test can read just the requests
// made after the mark.
type accessLog struct{ offset int64 }

func markLog(t *testing.T) accessLog {
	t.Helper()
	fi, err := os.Stat(registryLog())
	if err != nil {
		t.Fatal(err)
	}
	return accessLog{offset: fi.Size()}
}

// requests returns the request lines logged since the mark that mention all
// of the given fragments.
func (l accessLog) requests(t *testing.T, fragments ...string) []string {
	t.Helper()
	f, err := os.Open(registryLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, 0); err != nil {
		t.Fatal(err)
	}
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 1<<20), 1<<20)
next:
	for s.Scan() {
		// The registry logs each request twice; keep the access-log line.
		if strings.HasPrefix(s.Text(), "time=") {
			continue
		}
		for _, frag := range fragments {
			if !strings.Contains(s.Text(), frag) {
				continue next
			}
		}
		out = append(out, s.Text())
	}
	return out
}

func header(extra string) string {
	return "# syntax=" + lab.frontend + "\n# sdk-source=" + lab.registry + "/sdks/{platform}:{flavor}-{version}\n" + extra
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
