package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/lock"
)

// manifestDigest asks the lab registry what repo:tag points to.
func manifestDigest(t *testing.T, repo, tag string) digest.Digest {
	t.Helper()
	req, _ := http.NewRequest("HEAD", "http://"+lab.registry+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("%s:%s: %s %v", repo, tag, resp.Status, err)
	}
	return d
}

// lockEntry is what `sdkfront lock` writes for a single-platform SDK image
// of the lab registry, named as repository (which may be a mirrored one).
func lockEntry(t *testing.T, ref, source, repository, labRepo, tag, version string) lock.Entry {
	d := manifestDigest(t, labRepo, tag)
	return lock.Entry{
		Key:     lock.Key{Ref: ref, Flavor: "bookworm", Source: source},
		Version: version, Repository: repository, Tag: tag, Digest: d,
		Platforms: map[string]digest.Digest{"linux/amd64": d},
	}
}

func writeLock(t *testing.T, dir string, entries ...lock.Entry) {
	t.Helper()
	f := &lock.File{SDKs: entries}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile.sdk.lock"), f.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLockedBuildMakesNoResolution: with a lock, a range is pinned with no
// tag listing and no manifest lookup by tag; progress and the result
// metadata say it came from the lock.
func TestLockedBuildMakesNoResolution(t *testing.T) {
	source := lab.registry + "/sdks/{platform}:{flavor}-{version}"
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut)
	dir := project(t, df, map[string]string{})
	writeLock(t, dir, lockEntry(t, "golang@1.23", source, lab.registry+"/sdks/golang", "sdks/golang", "bookworm-1.23.4", "1.23.4"))
	log := markLog(t)
	meta := filepath.Join(t.TempDir(), "meta.json")
	r := buildctl(t, dir, "--metadata-file", meta).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	if reqs := log.requests(t, "/sdks/golang/tags/list"); len(reqs) != 0 {
		t.Errorf("a locked build listed tags:\n%s", strings.Join(reqs, "\n"))
	}
	if reqs := log.requests(t, "/sdks/golang/manifests/bookworm-"); len(reqs) != 0 {
		t.Errorf("a locked build resolved a tag:\n%s", strings.Join(reqs, "\n"))
	}
	if !strings.Contains(r.err, "[sdk] golang@1.23 -> 1.23.4 (bookworm, locked) "+lab.registry+"/sdks/golang@sha256:") {
		t.Errorf("progress does not say the SDK came from the lock:\n%s", tail(r.err, 40))
	}
	dt, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	// Other keys may hold objects (BuildKit v0.11 adds containerimage.buildinfo).
	var m struct {
		Resolved string `json:"frontend.sdk.resolved"`
	}
	if err := json.Unmarshal(dt, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Resolved, `"locked":true`) {
		t.Errorf("metadata: %s", dt)
	}

	// An edited line is resolved as before, with a warning at it; frozen
	// fails at it instead.
	df2 := strings.Replace(df, "golang@1.23\n", "golang@1.22\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df2), 0o644); err != nil {
		t.Fatal(err)
	}
	r = buildctl(t, dir, "--progress", "rawjson").mustSucceed(t)
	want := "SDKNotLocked: SDK golang@1.22 (flavor bookworm) is not in Dockerfile.sdk.lock, so it was resolved from the registry; run `sdkfront lock` to pin it in Dockerfile.sdk.lock (line 4)"
	if _, ok := rawWarnings(t, r.err)[want]; !ok {
		t.Errorf("no warning %q", want)
	}
	r = buildctl(t, dir, "--opt", "build-arg:SDK_LOCK=frozen").mustFail(t)
	for _, w := range []string{"SDK golang@1.22 (flavor bookworm) is not in Dockerfile.sdk.lock, and SDK_LOCK=frozen allows only locked SDKs", "Dockerfile:4", ">>> SDK golang@1.22"} {
		if !strings.Contains(r.err, w) {
			t.Errorf("frozen build output lacks %q:\n%s", w, tail(r.err, 20))
		}
	}
	if strings.Contains(r.err, "] RUN mkdir") {
		t.Errorf("a RUN step ran before the frozen lock failed the build")
	}
}
