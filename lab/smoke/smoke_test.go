// Package smoke checks that the lab (lab/lab.sh, docs/lab.md) works end to
// end: the registry serves the seeded images and logs requests, and plain
// Dockerfiles build through the sdkfront image with buildctl (gateway.v0 and
// "# syntax="), and with docker buildx. It runs only with SDKFRONT_LAB=1 and
// the lab's environment (eval "$(lab/lab.sh env)"); `make test-e2e` does both.
package smoke

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func labEnv(t *testing.T) (registry string) {
	t.Helper()
	if os.Getenv("SDKFRONT_LAB") != "1" {
		t.Skip("set SDKFRONT_LAB=1 and the lab env (make test-e2e) to run")
	}
	for _, k := range []string{"LAB_REGISTRY", "BUILDKIT_HOST", "LAB_REGISTRY_LOG"} {
		if os.Getenv(k) == "" {
			t.Fatalf("%s is not set: eval \"$(lab/lab.sh env)\"", k)
		}
	}
	return os.Getenv("LAB_REGISTRY")
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(string(out), 60))
	}
	t.Logf("%s %s (%s)", name, args[0], time.Since(start).Round(time.Millisecond))
	return string(out)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logSince returns what the registry access log gained since offset.
func logSize(t *testing.T) int64 {
	st, err := os.Stat(os.Getenv("LAB_REGISTRY_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func logSince(t *testing.T, off int64) string {
	b, err := os.ReadFile(os.Getenv("LAB_REGISTRY_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b[off:])
}

func TestRegistryServesSeededImagesAndPagesTags(t *testing.T) {
	reg := labEnv(t)
	off := logSize(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+reg+"/v2/lab/busybox/manifests/latest", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lab/busybox:latest: %s", resp.Status)
	}

	resp, err = http.Get("http://" + reg + "/v2/sdks/python/tags/list?n=1000")
	if err != nil {
		t.Fatal(err)
	}
	var tags struct{ Tags []string }
	err = json.NewDecoder(resp.Body).Decode(&tags)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 100 || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("tags/list?n=1000 gave %d tags, Link %q; want a first page of 100 with a next link", len(tags.Tags), resp.Header.Get("Link"))
	}

	// Every request is in the access log with method, path and status.
	log := logSince(t, off)
	for _, want := range []string{`"GET /v2/lab/busybox/manifests/latest HTTP/1.1" 200`, `"GET /v2/sdks/python/tags/list?n=1000 HTTP/1.1" 200`} {
		if !strings.Contains(log, want) {
			t.Errorf("registry log lacks %s; got:\n%s", want, tail(log, 20))
		}
	}
}

func TestPlainDockerfileBuildsThroughSdkfront(t *testing.T) {
	reg := labEnv(t)
	frontend := reg + "/sdkfront:dev"
	stamp := fmt.Sprint(time.Now().UnixNano())
	dir := t.TempDir()
	body := "FROM " + reg + "/lab/busybox\nRUN echo hi-" + stamp + " > /hi.txt\nFROM scratch\nCOPY --from=0 /hi.txt /\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.syntax"), []byte("# syntax="+frontend+"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}

	check := func(t *testing.T, out string, off int64) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, "hi.txt"))
		if err != nil || strings.TrimSpace(string(b)) != "hi-"+stamp {
			t.Fatalf("hi.txt = %q, %v", b, err)
		}
		if log := logSince(t, off); !strings.Contains(log, `"HEAD /v2/sdkfront/manifests/dev HTTP/1.1" 200`) {
			t.Fatalf("registry log shows no resolve of %s:\n%s", frontend, tail(log, 20))
		}
	}

	t.Run("buildctl-gateway", func(t *testing.T) {
		out, off := t.TempDir(), logSize(t)
		run(t, dir, "buildctl", "build", "--frontend", "gateway.v0", "--opt", "source="+frontend,
			"--local", "context=.", "--local", "dockerfile=.", "--output", "type=local,dest="+out, "--progress", "plain")
		check(t, out, off)
	})
	t.Run("buildctl-syntax", func(t *testing.T) {
		out, off := t.TempDir(), logSize(t)
		run(t, dir, "buildctl", "build", "--frontend", "dockerfile.v0", "--opt", "filename=Dockerfile.syntax",
			"--local", "context=.", "--local", "dockerfile=.", "--output", "type=local,dest="+out, "--progress", "plain")
		check(t, out, off)
	})
	t.Run("buildx", func(t *testing.T) {
		builder := os.Getenv("LAB_BUILDX_BUILDER")
		var bx []string
		if _, err := exec.LookPath("docker"); err == nil {
			bx = []string{"docker", "buildx"}
		} else if p, err := exec.LookPath("docker-buildx"); err == nil {
			bx = []string{p}
		} else {
			t.Skip("neither docker nor docker-buildx found")
		}
		out, off := t.TempDir(), logSize(t)
		args := append(bx[1:], "build", "--builder", builder, "-f", "Dockerfile.syntax",
			"--output", "type=local,dest="+out, "--progress", "plain", ".")
		run(t, dir, bx[0], args...)
		check(t, out, off)
	})
}

// TestSeededGoToolchainBuildsHello builds examples/Dockerfile.plain with the
// stock frontend: the seeded Oryx-layout Go toolchain must unpack and build.
func TestSeededGoToolchainBuildsHello(t *testing.T) {
	labEnv(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	run(t, root, "buildctl", "build", "--frontend", "dockerfile.v0",
		"--local", "context=examples", "--local", "dockerfile=examples", "--opt", "filename=Dockerfile.plain",
		"--output", "type=local,dest="+out, "--progress", "plain")
	b, err := os.ReadFile(filepath.Join(out, "result.txt"))
	if err != nil || !strings.HasPrefix(string(b), "hello from go1.23.4 linux/") {
		t.Fatalf("result.txt = %q, %v", b, err)
	}
}
