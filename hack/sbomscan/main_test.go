package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// goTool is a real Go binary with module dependencies (hack/imagepack links
// go-containerregistry), built once for the tests: test binaries themselves
// record no dependencies in their build information.
var goTool struct {
	once sync.Once
	path string
	err  error
}

func toolBinary(t *testing.T) string {
	t.Helper()
	goTool.once.Do(func() {
		dir, err := os.MkdirTemp("", "sbomscan-test-")
		if err != nil {
			goTool.err = err
			return
		}
		goTool.path = filepath.Join(dir, "imagepack")
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: the fallback when go is not on PATH; the test runs where it was built
		}
		cmd := exec.Command(gobin, "build", "-trimpath", "-o", goTool.path, "../imagepack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			goTool.err = fmt.Errorf("go build ../imagepack: %w\n%s", err, out)
		}
	})
	if goTool.err != nil {
		t.Fatal(goTool.err)
	}
	return goTool.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goTool.path != "" {
		os.RemoveAll(filepath.Dir(goTool.path))
	}
	os.Exit(code)
}

// copyExe copies a Go binary whose modules we know to dir/name.
func copyExe(t *testing.T, dir, name string) []byte {
	t.Helper()
	dt, err := os.ReadFile(toolBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, dt, 0o755); err != nil {
		t.Fatal(err)
	}
	return dt
}

func TestProtocolWritesValidSPDX(t *testing.T) {
	src := filepath.Join(t.TempDir(), "core", "sbom")
	exe := copyExe(t, src, "bin/tool")
	if err := os.WriteFile(filepath.Join(src, "README"), []byte("not a binary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "fake.elf"), []byte("\x7fELF but not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/tool", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	extras := filepath.Join(t.TempDir(), "extras")
	copyExe(t, filepath.Join(extras, "sbom-build"), "out/other")
	dest := t.TempDir()

	var log bytes.Buffer
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := scanForBuildKit(src, extras, dest, created, &log); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "sbom-build.spdx.json,sbom.spdx.json" {
		t.Fatalf("destination holds %v, want sbom.spdx.json and sbom-build.spdx.json", names)
	}

	raw, err := os.ReadFile(filepath.Join(dest, "sbom.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type          string          `json:"_type"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != "https://in-toto.io/Statement/v0.1" || st.PredicateType != "https://spdx.dev/Document" {
		t.Fatalf("statement header: %s %s", st.Type, st.PredicateType)
	}

	// The predicate is an SPDX 2.3 document as the SPDX project's own Go
	// library (the one BuildKit uses to read it) reads and validates it.
	doc, err := spdxjson.Read(bytes.NewReader(st.Predicate))
	if err != nil {
		t.Fatalf("tools-golang cannot read the document: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DocumentName != "sbom" || doc.CreationInfo.Created != "2026-01-02T03:04:05Z" {
		t.Errorf("header: %s %s %s", doc.SPDXVersion, doc.DocumentName, doc.CreationInfo.Created)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 {
		t.Errorf("described packages: %v %v", described, err)
	}

	if len(doc.Files) != 1 || doc.Files[0].FileName != "/bin/tool" {
		t.Fatalf("files: want only /bin/tool (no README, fake ELF or symlink), got %+v", doc.Files)
	}
	sum := sha256.Sum256(exe)
	var gotSum string
	for _, c := range doc.Files[0].Checksums {
		if c.Algorithm == "SHA256" {
			gotSum = c.Value
		}
	}
	if gotSum != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %s, want %x", gotSum, sum)
	}

	// Every module of the binary is listed, with its version and purl.
	bi, err := buildinfo.ReadFile(toolBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	purls := map[string]string{}
	for _, p := range doc.Packages {
		byName[p.PackageName] = p.PackageVersion
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" {
				purls[p.PackageName] = r.Locator
			}
		}
	}
	if len(bi.Deps) == 0 {
		t.Fatal("the binary records no dependencies")
	}
	for _, d := range bi.Deps {
		path, v := d.Path, d.Version
		if d.Replace != nil {
			path, v = d.Replace.Path, d.Replace.Version
		}
		if byName[path] != v {
			t.Errorf("module %s: version %q in the SBOM, want %q", path, byName[path], v)
		}
	}
	const ggcr = "github.com/google/go-containerregistry"
	if v := byName[ggcr]; v == "" {
		t.Errorf("%s missing: %v", ggcr, byName)
	} else if want := "pkg:golang/" + ggcr + "@" + v; purls[ggcr] != want {
		t.Errorf("purl %q, want %q", purls[ggcr], want)
	}
	if byName["stdlib"] != bi.GoVersion {
		t.Errorf("stdlib %q, want %q", byName["stdlib"], bi.GoVersion)
	}
	if _, ok := byName[bi.Main.Path]; !ok {
		t.Errorf("main module %s missing", bi.Main.Path)
	}
	if !strings.Contains(log.String(), "sbom: 1 Go binaries") {
		t.Errorf("log: %s", log.String())
	}
}

func TestProtocolOptionalExtrasAndErrors(t *testing.T) {
	src := filepath.Join(t.TempDir(), "sbom")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	// A missing extras directory is no error; an empty root gives a valid, empty SBOM.
	if err := scanForBuildKit(src, filepath.Join(t.TempDir(), "nope"), dest, time.Unix(0, 0), io.Discard); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dest, "sbom.spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Predicate json.RawMessage }
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(st.Predicate))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Files) != 0 || len(doc.Packages) != 1 {
		t.Errorf("empty root: %d files, %d packages", len(doc.Files), len(doc.Packages))
	}
	if err := scanForBuildKit("", "", dest, time.Unix(0, 0), io.Discard); err == nil {
		t.Error("no error without BUILDKIT_SCAN_SOURCE")
	}
}

func TestMainVersionFromLdflags(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/sdkfront/sdkfront", Version: "(devel)"}}
	if v, via := mainVersion(bi); v != "(devel)" || via != "" {
		t.Errorf("no ldflags: %q %q", v, via)
	}
	bi.Settings = []debug.BuildSetting{{Key: "-ldflags", Value: `"-s -w -X github.com/sdkfront/sdkfront/version.Version=v1.2.3-dirty -X github.com/sdkfront/sdkfront/version.Revision=abc"`}}
	if v, via := mainVersion(bi); v != "v1.2.3-dirty" || !strings.Contains(via, "version.Version") {
		t.Errorf("stamped: %q %q", v, via)
	}
	bi.Settings = []debug.BuildSetting{{Key: "-ldflags", Value: "-X example.com/other/version.Version=v9"}}
	if v, _ := mainVersion(bi); v != "(devel)" {
		t.Errorf("another module's stamp taken: %q", v)
	}
	bi.Main.Version = "v0.5.0"
	if v, _ := mainVersion(bi); v != "v0.5.0" {
		t.Errorf("module version: %q", v)
	}
}

func TestIDsAndPURLs(t *testing.T) {
	if a, b := spdxID("a/b"), spdxID("a-b"); a == b {
		t.Errorf("spdxID collides: %s", a)
	}
	for _, s := range []string{"/bin/tool", "github.com/x/y@v1.0.0+incompatible", "go1.26.8"} {
		id := spdxID(s)
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
				t.Errorf("spdxID(%q) = %q has %q", s, id, c)
			}
		}
	}
	cases := map[string]*module{
		"pkg:golang/github.com/docker/docker@v24.0.0%2Bincompatible": {path: "github.com/docker/docker", version: "v24.0.0+incompatible"},
		"pkg:golang/stdlib@1.26.8":                                   {path: "stdlib", version: "go1.26.8", stdlib: true},
		"pkg:golang/github.com/sdkfront/sdkfront":                    {path: "github.com/sdkfront/sdkfront", version: "(devel)"},
	}
	for want, m := range cases {
		if got := goPURL(m); got != want {
			t.Errorf("goPURL(%+v) = %q, want %q", m, got, want)
		}
	}
}
