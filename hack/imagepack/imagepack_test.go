package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// layerFiles reads an uncompressed tar stream into name -> mode.
func layerFiles(t *testing.T, r io.Reader) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h.Mode
	}
}

// staticBinary builds a trivial static Go program, as the frontend is built.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "x", ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "x")
}

func TestFrontendImage(t *testing.T) {
	exe := staticBinary(t)
	if err := ociimage.CheckStatic(exe); err != nil {
		t.Fatalf("CGO_ENABLED=0 build is not static: %v", err)
	}
	if _, err := frontendImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), "/bin/sh", false); err == nil {
		t.Error("a dynamically linked binary was accepted for a FROM scratch image")
	}
	img, err := frontendImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), exe, false)
	if err != nil {
		t.Fatal(err)
	}
	off, err := frontendImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), exe, true)
	if err != nil {
		t.Fatal(err)
	}
	if cf, _ := off.ConfigFile(); cf.Config.Labels["moby.buildkit.frontend.network.none"] != "true" || cf.Config.Labels["moby.buildkit.frontend.caps"] != frontendCaps {
		t.Errorf("offline variant labels = %v", cf.Config.Labels)
	}
	cf, _ := img.ConfigFile()
	if got := cf.Config.Labels["moby.buildkit.frontend.caps"]; got != frontendCaps {
		t.Errorf("caps label = %q", got)
	}
	if _, ok := cf.Config.Labels["moby.buildkit.frontend.network.none"]; ok {
		t.Error("network.none must not be set")
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/sdkfront" {
		t.Errorf("entrypoint = %q", cf.Config.Entrypoint)
	}
}

// TestFrontendCapsMatchStockImage: every copy of the caps label sdkfront
// ships equals the stock Dockerfile frontend image's, as built from the
// BuildKit version go.mod pins. It fails, never skips, when that source
// cannot be found: after an upgrade, that is the moment to look.
func TestFrontendCapsMatchStockImage(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}\t{{.Dir}}", "github.com/moby/buildkit").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/moby/buildkit: %v", err)
	}
	version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if dir == "" {
		t.Fatalf("BuildKit %s (go.mod) is not in the module cache: run `go mod download github.com/moby/buildkit`", version)
	}
	df, err := os.ReadFile(filepath.Join(dir, "frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile"))
	if err != nil {
		t.Fatalf("BuildKit %s: the stock frontend's Dockerfile moved or is gone: %v", version, err)
	}
	label := regexp.MustCompile(`LABEL moby\.buildkit\.frontend\.caps="([^"]*)"`)
	m := label.FindStringSubmatch(string(df))
	if m == nil {
		t.Fatalf("BuildKit %s: the stock frontend's Dockerfile no longer sets moby.buildkit.frontend.caps", version)
	}
	stock := m[1]

	copies := map[string]string{"hack/imagepack frontendCaps": frontendCaps}
	for _, c := range []struct{ file, pattern string }{
		{"../../cmd/frontend/Dockerfile", label.String()},
		{"../../e2e/image_test.go", `const stockCaps = "([^"]*)"`},
	} {
		dt, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(c.pattern).FindAllStringSubmatch(string(dt), -1)
		if len(m) == 0 {
			t.Errorf("%s: no caps label found (%s)", c.file, c.pattern)
		}
		for i, mm := range m {
			copies[fmt.Sprintf("%s #%d", c.file, i+1)] = mm[1]
		}
	}
	for where, caps := range copies {
		if caps != stock {
			t.Errorf("%s: caps %q differ from the stock frontend's of BuildKit %s: %q", where, caps, version, stock)
		}
	}
}

// TestFrontendDockerfileMatchesPackedImage: cmd/frontend/Dockerfile (make
// image) and the packed sdkfront:dev carry the same frontend labels.
func TestFrontendDockerfileMatchesPackedImage(t *testing.T) {
	df, err := os.ReadFile("../../cmd/frontend/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), `LABEL moby.buildkit.frontend.caps="`+frontendCaps+`"`) {
		t.Errorf("cmd/frontend/Dockerfile does not set moby.buildkit.frontend.caps=%q", frontendCaps)
	}
	// network.none only on the offline variant, which release does not
	// build on: sdkfront reads registries over the network.
	release := string(df)[strings.LastIndex(string(df), "\nFROM "):]
	_, offline, ok := strings.Cut(string(df), "AS offline")
	if !ok {
		t.Fatal("cmd/frontend/Dockerfile has no offline stage")
	}
	offline, _, _ = strings.Cut(offline, "\nFROM ")
	if !strings.HasPrefix(release, "\nFROM sdkfront AS release") || strings.Contains(release, "network.none") {
		t.Errorf("cmd/frontend/Dockerfile: the last stage must be the release image, without network.none:%s", release)
	}
	if !strings.Contains(offline, `LABEL moby.buildkit.frontend.network.none="true"`) {
		t.Error("cmd/frontend/Dockerfile: the offline stage does not set moby.buildkit.frontend.network.none")
	}
	if !strings.Contains(string(df), `ENTRYPOINT ["/sdkfront"]`) {
		t.Error(`cmd/frontend/Dockerfile: want ENTRYPOINT ["/sdkfront"], as the packed image`)
	}
}

func TestSBOMScannerImage(t *testing.T) {
	exe := staticBinary(t)
	if _, err := sbomScannerImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), "/bin/sh"); err == nil {
		t.Error("a dynamically linked binary was accepted for a FROM scratch image")
	}
	img, err := sbomScannerImage(ociimage.NewBlobs(t.TempDir()), ociimage.HostPlatform(), exe)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/sbomscan" {
		t.Errorf("entrypoint = %q", cf.Config.Entrypoint)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if files := layerFiles(t, rc); len(files) != 1 || files["sbomscan"] != 0o755 {
		t.Errorf("layer: want only /sbomscan 0755, got %d entries, /sbomscan %o", len(files), files["sbomscan"])
	}
}

// TestRunPushesOnceAndPrintsDigest runs the command against an in-memory
// registry: it prints REF@DIGEST, the image is there with the offline label,
// and packing the same binary again prints the same digest.
func TestRunPushesOnceAndPrintsDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/sdkfront:hacktest"
	exe := staticBinary(t)

	pack := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run([]string{"frontend", "-offline", "-binary", exe, "-image", ref}, &stdout, &stderr); err != nil {
			t.Fatalf("imagepack: %v\n%s", err, stderr.String())
		}
		return stdout.String()
	}
	out := pack()
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(ref) + `@sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("stdout %q, want %s@sha256:<digest> and a newline", out, ref)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); out != fmt.Sprintf("%s@%s\n", ref, d) {
		t.Errorf("stdout %q, but the registry holds %s", out, d)
	}
	if cf, _ := img.ConfigFile(); cf.Config.Labels["moby.buildkit.frontend.network.none"] != "true" || cf.History[0].CreatedBy != createdBy {
		t.Errorf("pushed config: labels %v, history %+v", cf.Config.Labels, cf.History)
	}
	if again := pack(); again != out {
		t.Errorf("packing again printed %q, want %q", again, out)
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	exe := staticBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "missing subcommand"},
		{[]string{"busybox"}, `unknown subcommand "busybox"`},
		{[]string{"frontend", "-image", "127.0.0.1:5000/sdkfront:dev"}, "frontend: -binary and -image are required"},
		{[]string{"sbomscan", "-binary", exe}, "sbomscan: -binary and -image are required"},
		{[]string{"sbomscan", "-offline", "-binary", exe, "-image", "127.0.0.1:5000/x:y"}, "flag provided but not defined: -offline"},
		{[]string{"frontend", "-binary", exe, "-image", "sdkfront:dev"}, `frontend: -image "sdkfront:dev": strict validation requires the registry to be explicitly defined`},
		{[]string{"frontend", "-binary", exe, "-image", "127.0.0.1:5000/Bad:dev"}, `frontend: -image "127.0.0.1:5000/Bad:dev": `},
		{[]string{"frontend", "-binary", "/bin/sh", "-image", "127.0.0.1:5000/sdkfront:dev"}, "/bin/sh is dynamically linked"},
		{[]string{"frontend", "-binary", exe, "-image", "127.0.0.1:5000/sdkfront:dev", "extra"}, `frontend: unexpected arguments: ["extra"]`},
	} {
		err := run(c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("imagepack %q: error %v, want %q", c.args, err, c.want)
		}
	}
}
