package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sdkfront/sdkfront/resolver"
)

// offlineFrontend is the offline variant `make frontend-image` pushes beside
// sdkfront:dev: BuildKit's moby.buildkit.frontend.network.none label gives
// its container no network, so it resolves only through BuildKit.
func offlineFrontend(t *testing.T) string {
	t.Helper()
	ref := lab.registry + "/sdkfront:dev-offline"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("%s: %v (make frontend-image pushes it)", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.Labels["moby.buildkit.frontend.network.none"] != "true" {
		t.Fatalf("%s lacks moby.buildkit.frontend.network.none=true: %v", ref, cf.Config.Labels)
	}
	return ref
}

// defaultSourceLock is what `sdkfront lock` writes, on a machine that
// reaches mcr.microsoft.com, for golang@1.23 on the default source: the
// lab seeds the same image as oryx/golang-sdk, which the daemon mirrors.
func defaultSourceLock(t *testing.T, dir string) {
	e := lockEntry(t, "golang@1.23", resolver.DefaultSourceTemplate, "mcr.microsoft.com/oryx/golang-sdk", "oryx/golang-sdk", "bookworm-1.23.4", "1.23.4")
	writeLock(t, dir, e)
}

// TestDefaultSourceOffline builds with no # sdk-source at all, on a daemon
// that mirrors mcr.microsoft.com to the lab registry and nothing else: an
// exact version resolves through BuildKit and its mirror; a range resolves
// from the lock, and without one fails with advice to lock; the provenance
// lists the SDK by digest.
func TestDefaultSourceOffline(t *testing.T) {
	addr := daemon(t, `[registry."mcr.microsoft.com"]`, `  mirrors = ["`+lab.registry+`"]`)
	build := func(dir string, extra ...string) result {
		out := t.TempDir()
		args := append([]string{"--addr", addr, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
			"--local", "context=" + dir, "--local", "dockerfile=" + dir, "--output", "type=local,dest=" + out}, extra...)
		return run(t, out, bin("buildctl"), args...)
	}
	df := func(frontend, ref string) string {
		return "# syntax=" + frontend + "\nFROM " + lab.registry + "/lab/busybox\nSDK " + ref + "\nRUN mkdir /out && go version > /out/v\n" + exportOut
	}

	t.Run("exact", func(t *testing.T) {
		r := build(project(t, df(lab.frontend, "golang@1.23.4"), map[string]string{}), "--opt", "attest:provenance=mode=max").mustSucceed(t)
		if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
			t.Errorf("go version = %q", got)
		}
		prov := r.file(t, "provenance.json")
		if !strings.Contains(prov, "pkg:docker/mcr.microsoft.com/oryx/golang-sdk") || !strings.Contains(prov, manifestDigest(t, "oryx/golang-sdk", "bookworm-1.23.4").Encoded()) {
			t.Errorf("the provenance does not list the SDK image by digest:\n%.2000s", prov)
		}
		var p struct{}
		if err := json.Unmarshal([]byte(prov), &p); err != nil {
			t.Errorf("provenance.json: %v", err)
		}
	})
	t.Run("range without a lock", func(t *testing.T) {
		r := build(project(t, df(lab.frontend, "golang@1.23"), map[string]string{})).mustFail(t)
		for _, w := range []string{"mcr.microsoft.com/oryx/golang-sdk", "`sdkfront lock` pins it in Dockerfile.sdk.lock", "Dockerfile:3"} {
			if !strings.Contains(r.err, w) {
				t.Errorf("output lacks %q:\n%s", w, tail(r.err, 20))
			}
		}
	})
	t.Run("range with a lock", func(t *testing.T) {
		dir := project(t, df(lab.frontend, "golang@1.23"), map[string]string{})
		defaultSourceLock(t, dir)
		r := build(dir).mustSucceed(t)
		if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
			t.Errorf("go version = %q", got)
		}
		if !strings.Contains(r.err, "[sdk] golang@1.23 -> 1.23.4 (bookworm, locked) mcr.microsoft.com/oryx/golang-sdk@sha256:") {
			t.Errorf("progress does not show the locked SDK:\n%s", tail(r.err, 30))
		}
	})

	// The offline image: no network for the frontend at all.
	offline := offlineFrontend(t)
	t.Run("offline image, locked", func(t *testing.T) {
		dir := project(t, df(offline, "golang@1.23"), map[string]string{})
		defaultSourceLock(t, dir)
		r := build(dir).mustSucceed(t)
		if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
			t.Errorf("go version = %q", got)
		}
	})
	t.Run("offline image, unlocked range", func(t *testing.T) {
		df := "# syntax=" + offline + "\n# sdk-source=" + lab.registry + "/sdks/{platform}:{flavor}-{version}\nFROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\n"
		r := build(project(t, df, map[string]string{})).mustFail(t)
		for _, w := range []string{"cannot list tags of " + lab.registry + "/sdks/golang", "`sdkfront lock` pins it", "Dockerfile:4"} {
			if !strings.Contains(r.err, w) {
				t.Errorf("output lacks %q:\n%s", w, tail(r.err, 20))
			}
		}
	})
}
