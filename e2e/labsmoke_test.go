package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Smoke tests of the lab itself (lab/lab.sh, docs/lab.md): the registry
// serves the seeded images, pages tags and logs every request, and a plain
// Dockerfile builds through the sdkfront image with buildctl (gateway.v0
// and "# syntax=") and with docker buildx.

func TestLabRegistryServesSeededImagesAndPagesTags(t *testing.T) {
	log := markLog(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+lab.registry+"/v2/lab/busybox/manifests/latest", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lab/busybox:latest: %s", resp.Status)
	}

	resp, err = http.Get("http://" + lab.registry + "/v2/sdks/python/tags/list?n=1000")
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
	for _, want := range [][]string{{"GET /v2/lab/busybox/manifests/latest HTTP/1.1", `" 200`}, {"GET /v2/sdks/python/tags/list?n=1000 HTTP/1.1", `" 200`}} {
		if got := log.requests(t, want...); len(got) != 1 {
			t.Errorf("registry log: %d lines with %q, want 1", len(got), want)
		}
	}
}

func TestLabPlainDockerfileBuildsThroughSdkfront(t *testing.T) {
	stamp := fmt.Sprint(time.Now().UnixNano())
	body := "FROM " + lab.registry + "/lab/busybox\nRUN echo hi-" + stamp + " > /hi.txt\nFROM scratch\nCOPY --from=0 /hi.txt /\n"
	dir := project(t, body, map[string]string{"Dockerfile.syntax": "# syntax=" + lab.frontend + "\n" + body})
	check := func(t *testing.T, r result, log accessLog) {
		t.Helper()
		r.mustSucceed(t)
		if got := strings.TrimSpace(r.file(t, "hi.txt")); got != "hi-"+stamp {
			t.Errorf("hi.txt = %q", got)
		}
		repo, tag, _ := strings.Cut(strings.TrimPrefix(lab.frontend, lab.registry+"/"), ":")
		if got := log.requests(t, "HEAD /v2/"+repo+"/manifests/"+tag+" HTTP/1.1"); len(got) == 0 {
			t.Errorf("the registry log shows no resolve of %s", lab.frontend)
		}
	}
	t.Run("buildctl-gateway", func(t *testing.T) {
		log := markLog(t)
		check(t, buildctl(t, dir, "--frontend", "gateway.v0", "--opt", "source="+lab.frontend), log)
	})
	t.Run("buildctl-syntax", func(t *testing.T) {
		log := markLog(t)
		check(t, buildctl(t, dir, "--opt", "filename=Dockerfile.syntax"), log)
	})
	t.Run("buildx", func(t *testing.T) {
		log := markLog(t)
		out := t.TempDir()
		r := run(t, out, "docker", "buildx", "build", "--builder", envOr("LAB_BUILDX_BUILDER", "sdkfront-lab"),
			"-f", filepath.Join(dir, "Dockerfile.syntax"), "--output", "type=local,dest="+out, "--progress", "plain", dir)
		check(t, r, log)
	})
}

// TestLabSeededGoToolchainBuildsHello builds examples/Dockerfile.plain with
// the stock frontend: the seeded Oryx-layout Go toolchain must unpack and
// build.
func TestLabSeededGoToolchainBuildsHello(t *testing.T) {
	root, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	r := buildctl(t, root, "--opt", "filename=Dockerfile.plain").mustSucceed(t)
	if got := r.file(t, "result.txt"); !strings.HasPrefix(got, "hello from go1.23.4 linux/") {
		t.Errorf("result.txt = %q", got)
	}
}
