package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sdkfront/sdkfront/lock"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// testRegistry is an in-process registry on 127.0.0.1 (so plain HTTP).
type testRegistry struct {
	*httptest.Server
	host     string
	requests atomic.Int32
	auth     remote.Option
}

// newRegistry starts ggcr's in-memory registry. With user set, it wants
// HTTP basic auth, as a distribution registry with htpasswd does.
func newRegistry(t *testing.T, user, pass string) *testRegistry {
	t.Helper()
	r := &testRegistry{auth: remote.WithAuth(authn.Anonymous)}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if u, p, ok := req.BasicAuth(); user != "" && (!ok || u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="sdks"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Close)
	r.host = strings.TrimPrefix(r.URL, "http://")
	if user != "" {
		r.auth = remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	}
	return r
}

// sdkImage is a deterministic SDK image in the seeds layout: one layer
// (its bytes are what, so every SDK has its own digest), a config with one
// diff_id, OCI media types, and labels.
func sdkImage(t *testing.T, what, platform string, labels map[string]string) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte(what+" "+platform), types.OCILayer)})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config.Labels = labels
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// sdkIndex is an index of one sdkImage per platform.
func sdkIndex(t *testing.T, what string, platforms ...string) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: sdkImage(t, what, p, nil), Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx
}

// push writes an image or an index to repoTag ("sdks/golang:bookworm-1.23.4").
func (r *testRegistry) push(t *testing.T, repoTag string, img remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	switch img := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, img, r.auth)
	case v1.Image:
		err = remote.Write(ref, img, r.auth)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// seed pushes the SDKs of the sample Dockerfile.
func (r *testRegistry) seed(t *testing.T) {
	t.Helper()
	r.push(t, "sdks/golang:bookworm-1.22.10", sdkImage(t, "go1.22.10", "linux/amd64", nil))
	r.push(t, "sdks/golang:bookworm-1.23.4", sdkIndex(t, "go1.23.4", "linux/amd64", "linux/arm64"))
	r.push(t, "sdks/golang:bullseye-1.23.9", sdkIndex(t, "go1.23.9-bullseye", "linux/amd64", "linux/arm64"))
	r.push(t, "sdks/nodejs:bookworm-20.9.0", sdkIndex(t, "node20.9.0", "linux/amd64", "linux/arm64"))
	r.push(t, "sdks/nodejs:bookworm-20.11.1", sdkIndex(t, "node20.11.1", "linux/amd64", "linux/arm64"))
	r.push(t, "sdks/nodejs:bookworm-default", sdkImage(t, "node20.11.1", "linux/amd64", map[string]string{"org.oryx.version": "20.11.1"}))
	r.push(t, "sdks/python:bullseye-3.11.9", sdkImage(t, "python3.11.9", "linux/amd64", nil))
	r.push(t, "sdks/python:bullseye-3.12.1", sdkImage(t, "python3.12.1", "linux/amd64", nil))
}

// sample is the Dockerfile of most tests. It shows ARG scoping (the first
// mount is in a stage that does not declare NODE_MAJOR, so its ref is
// "nodejs@default", resolved through the default tag's label), build args (GO_VERSION), a flavor of
// its own, and a stage with a platform of its own.
const sample = `# syntax=docker/dockerfile:1
# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
ARG NODE_MAJOR=20
FROM scratch AS build
ARG GO_VERSION=1.22
SDK golang@${GO_VERSION}
RUN --mount=type=sdk,ref=nodejs@${NODE_MAJOR:-default},target=/opt/node node --version

FROM --platform=linux/amd64 scratch AS tools
SDK python@3.11 --flavor=bullseye

FROM build
ARG NODE_MAJOR
RUN --mount=type=sdk,ref=nodejs@${NODE_MAJOR},target=/opt/node node --version
COPY --from=tools /opt /opt
`

// sampleArgs lock the sample for two platforms.
var sampleArgs = []string{"--build-arg", "GO_VERSION=1.23", "--platform", "linux/amd64,linux/arm64"}

// isolate gives the test a directory to work in and an empty docker
// config, so that no credentials of the machine are used.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	home := filepath.Join(dir, ".home")
	for _, d := range []string{home, filepath.Join(home, "docker")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "docker"))
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", home)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Chdir(dir)
	return dir
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	dt, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(dt)
}

// sdkfront runs the command in-process.
func sdkfront(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	t.Logf("sdkfront %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func lockArgs(extra ...string) []string {
	return append(append([]string{"lock"}, sampleArgs...), extra...)
}

func wantCode(t *testing.T, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("exit code %d, want %d", got, want)
	}
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q", l)
		}
	}
}

// golden compares got (with the registry's host replaced by REGISTRY) with
// testdata/name; -update-golden rewrites it.
func golden(t *testing.T, name, host, got string) {
	t.Helper()
	got = strings.ReplaceAll(got, host, "REGISTRY")
	path := filepath.Join(testdataDir, name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (-update-golden rewrites it); got:\n%s", path, got)
	}
}

var testdataDir = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "testdata")
}()

// setup: an isolated directory with the sample Dockerfile, and a seeded
// registry.
func setup(t *testing.T) *testRegistry {
	t.Helper()
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	reg.seed(t)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", reg.host))
	return reg
}

func TestLockGolden(t *testing.T) {
	reg := setup(t)
	code, stdout, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	if stdout != "Dockerfile.sdk.lock\n" {
		t.Errorf("stdout %q, want the lock's path", stdout)
	}
	golden(t, "sample.sdk.lock.golden", reg.host, read(t, "Dockerfile.sdk.lock"))
	golden(t, "sample.stderr.golden", reg.host, stderr)
	validateSchema(t, read(t, "Dockerfile.sdk.lock"))

	// The digests are the images' own: the index and its manifests, or the
	// one manifest for every platform.
	f := lockFile(t)
	idx := sdkIndex(t, "go1.23.4", "linux/amd64", "linux/arm64")
	idxDigest, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	py, _ := sdkImage(t, "python3.11.9", "linux/amd64", nil).Digest()
	for _, e := range f.SDKs {
		var want map[string]string
		switch e.Ref {
		case "golang@1.23":
			want = map[string]string{"": idxDigest.String(), "linux/amd64": im.Manifests[0].Digest.String(), "linux/arm64": im.Manifests[1].Digest.String()}
		case "python@3.11":
			want = map[string]string{"": py.String(), "linux/amd64": py.String()}
		default:
			continue
		}
		got := map[string]string{"": e.Digest.String()}
		for p, d := range e.Platforms {
			got[p] = d.String()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: digests %v, want %v", e.Ref, got, want)
		}
	}

	// Locking twice gives the same bytes, and does not write them again.
	first, _ := os.Stat("Dockerfile.sdk.lock")
	dt := read(t, "Dockerfile.sdk.lock")
	code, stdout, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	if got := read(t, "Dockerfile.sdk.lock"); got != dt {
		t.Errorf("second lock differs:\n%s", got)
	}
	if second, _ := os.Stat("Dockerfile.sdk.lock"); !os.SameFile(first, second) || !second.ModTime().Equal(first.ModTime()) {
		t.Error("an unchanged lock was written again")
	}
	wantLines(t, stderr, "Dockerfile.sdk.lock is up to date (4 unchanged)\n")
	if strings.Contains(stderr, "resolving") || stdout != "Dockerfile.sdk.lock\n" {
		t.Errorf("a complete lock resolved again or printed no path: %q %q", stdout, stderr)
	}

	// A fresh lock in another directory gives the same bytes too.
	if err := os.Remove("Dockerfile.sdk.lock"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	if got := read(t, "Dockerfile.sdk.lock"); got != dt {
		t.Errorf("relocking differs:\n%s", got)
	}
	if _, err := lock.Parse([]byte(dt)); err != nil {
		t.Errorf("the lock does not parse: %v", err)
	}
	if entries, _ := filepath.Glob(".Dockerfile.sdk.lock.*"); len(entries) > 0 {
		t.Errorf("temporary files left: %v", entries)
	}

	// The lock needs no registry to check.
	reg.Close()
	code, stdout, stderr = sdkfront(t, append(lockArgs(), "--check")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "Dockerfile.sdk.lock is up to date (4 SDKs)\n")
	if stdout != "" {
		t.Errorf("--check printed %q on stdout", stdout)
	}
}

func must(code int, _, _ string) int { return code }

// validateSchema checks a lock against the published JSON Schema.
func validateSchema(t *testing.T, doc string) {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(testdataDir, "..", "..", "..", "docs", "sdk.lock.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(dt))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sdk.lock.schema.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sdk.lock.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("the lock fails docs/sdk.lock.schema.json: %v", err)
	}
}

func TestLockUpdate(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	before := read(t, "Dockerfile.sdk.lock")

	// Newer releases: the lock keeps what it has.
	reg.push(t, "sdks/golang:bookworm-1.23.12", sdkIndex(t, "go1.23.12", "linux/amd64", "linux/arm64"))
	reg.push(t, "sdks/nodejs:bookworm-20.12.0", sdkIndex(t, "node20.12.0", "linux/amd64", "linux/arm64"))
	reg.push(t, "sdks/python:bullseye-3.11.10", sdkImage(t, "python3.11.10", "linux/amd64", nil))
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	if read(t, "Dockerfile.sdk.lock") != before {
		t.Fatal("the lock changed without --update")
	}

	// --update REF re-resolves that one only.
	code, _, stderr := sdkfront(t, lockArgs("--update", "golang@1.23")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23: 1.23.4 -> 1.23.12\n", "wrote Dockerfile.sdk.lock (1 updated, 3 unchanged)\n")
	after := lockFile(t)
	if v := lockedVersion(after, "golang@1.23"); v != "1.23.12" {
		t.Errorf("golang@1.23 locked to %s", v)
	}
	if v := lockedVersion(after, "nodejs@20"); v != "20.11.1" {
		t.Errorf("nodejs@20 locked to %s; --update golang@1.23 touched it", v)
	}
	e, _ := after.Lookup(lock.Key{Ref: "golang@1.23", Flavor: "bookworm", Source: reg.host + "/sdks/{platform}:{flavor}-{version}"})
	if len(e.Platforms) != 2 || e.Platforms["linux/arm64"] == e.Digest {
		t.Errorf("updated entry platforms %v", e.Platforms)
	}

	// An SDK platform names every ref of it; flags may follow the names.
	code, _, stderr = sdkfront(t, "lock", "--update", "nodejs", "python", "--build-arg", "GO_VERSION=1.23", "--platform", "linux/amd64,linux/arm64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "nodejs@20: 20.11.1 -> 20.12.0\n", "nodejs@default: 20.11.1 (unchanged)\n", "python@3.11: 3.11.9 -> 3.11.10\n")
	if strings.Contains(stderr, "golang") {
		t.Errorf("--update nodejs python mentions golang")
	}

	// --update alone: everything, and nothing is left to change.
	code, _, stderr = sdkfront(t, lockArgs("--update")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "Dockerfile.sdk.lock is up to date (4 unchanged)\n")

	// A name no line has is a usage error.
	code, _, stderr = sdkfront(t, lockArgs("--update", "dotnet")...)
	wantCode(t, code, exitUsage)
	wantLines(t, stderr, "--update dotnet: no SDK line of Dockerfile is dotnet (its SDKs: golang@1.23, nodejs@default, python@3.11, nodejs@20)")
}

func lockFile(t *testing.T) *lock.File {
	t.Helper()
	f, err := lock.Parse([]byte(read(t, "Dockerfile.sdk.lock")))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func lockedVersion(f *lock.File, ref string) string {
	for _, e := range f.SDKs {
		if e.Ref == ref {
			return e.Version
		}
	}
	return ""
}

// Platforms are added to a kept entry without re-resolving it, and kept
// when a later lock asks for fewer.
func TestLockPlatforms(t *testing.T) {
	reg := setup(t)
	args := []string{"lock", "--build-arg", "GO_VERSION=1.23"}
	wantCode(t, must(sdkfront(t, append(args, "--platform", "linux/amd64")...)), exitOK)
	if p := platformsOf(t, "golang@1.23"); p != "linux/amd64" {
		t.Fatalf("platforms %s", p)
	}
	reg.push(t, "sdks/golang:bookworm-1.23.12", sdkIndex(t, "go1.23.12", "linux/amd64", "linux/arm64"))

	code, _, stderr := sdkfront(t, append(args, "--platform", "arm64", "--platform", "linux/amd64")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23: 1.23.4, now also for linux/arm64\n")
	if p, v := platformsOf(t, "golang@1.23"), lockedVersion(lockFile(t), "golang@1.23"); p != "linux/amd64 linux/arm64" || v != "1.23.4" {
		t.Errorf("golang@1.23: %s %s, want 1.23.4 for linux/amd64 linux/arm64", v, p)
	}
	// python's stage is linux/amd64 whatever the target.
	if p := platformsOf(t, "python@3.11"); p != "linux/amd64" {
		t.Errorf("python@3.11 platforms %s", p)
	}

	// Fewer platforms: the entries keep theirs, and --check is content.
	wantCode(t, must(sdkfront(t, append(args, "--platform", "linux/arm64")...)), exitOK)
	if p := platformsOf(t, "golang@1.23"); p != "linux/amd64 linux/arm64" {
		t.Errorf("platforms %s after locking for linux/arm64 alone", p)
	}
	wantCode(t, must(sdkfront(t, append(args, "--check", "--platform", "linux/arm64")...)), exitOK)

	// A platform the locked image lacks fails, and says how to move on.
	code, _, stderr = sdkfront(t, append(args, "--platform", "linux/s390x")...)
	wantCode(t, code, exitError)
	wantLines(t, stderr,
		"Dockerfile:6: SDK golang@1.23: locked to 1.23.4, which cannot be resolved for linux/s390x: "+reg.host+"/sdks/golang@sha256:",
		"has no image for platform linux/s390x: not found (its index has linux/amd64, linux/arm64); to re-resolve it, run sdkfront lock --update golang@1.23\n",
		"Dockerfile.sdk.lock not written\n")
}

func platformsOf(t *testing.T, ref string) string {
	t.Helper()
	for _, e := range lockFile(t).SDKs {
		if e.Ref == ref {
			var ps []string
			for p := range e.Platforms {
				ps = append(ps, p)
			}
			return strings.Join(sorted(ps), " ")
		}
	}
	return ""
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestCheck(t *testing.T) {
	reg := setup(t)
	check := lockArgs("--check")

	// No lock.
	code, _, stderr := sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock does not exist: run sdkfront lock --build-arg GO_VERSION=1.23 --platform linux/amd64,linux/arm64\n")

	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	reg.Close() // --check never needs the registry
	n := reg.requests.Load()
	wantCode(t, must(sdkfront(t, check...)), exitOK)

	// A line the lock lacks.
	df := read(t, "Dockerfile")
	write(t, "Dockerfile", df+"SDK golang@1.22\n")
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:16: golang@1.22 (bookworm) is not locked\n", "Dockerfile.sdk.lock is out of date: run sdkfront lock")

	// A build arg that changes a ref is a missing entry and a stale one.
	write(t, "Dockerfile", df)
	code, _, stderr = sdkfront(t, "lock", "--check", "--build-arg", "GO_VERSION=1.22", "--platform", "linux/amd64,linux/arm64")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:6: golang@1.22 (bookworm) is not locked\n",
		"Dockerfile.sdk.lock: golang@1.23 (bookworm) is locked, but no SDK line of Dockerfile uses it\n")

	// A stale entry: the line is gone.
	write(t, "Dockerfile", strings.Replace(df, "SDK python@3.11 --flavor=bullseye\n", "", 1))
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock: python@3.11 (bullseye) is locked, but no SDK line of Dockerfile uses it\n")
	write(t, "Dockerfile", df)

	// A platform the lock lacks.
	code, _, stderr = sdkfront(t, "lock", "--check", "--build-arg", "GO_VERSION=1.23", "--platform", "linux/amd64,linux/arm64,linux/s390x")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:6: golang@1.23 (bookworm) is locked to 1.23.4 but not for linux/s390x\n",
		"Dockerfile:7: nodejs@default (bookworm) is locked to 20.11.1 but not for linux/s390x\n",
		"Dockerfile:14: nodejs@20 (bookworm) is locked to 20.11.1 but not for linux/s390x\n")
	if strings.Contains(stderr, "python") {
		t.Error("python's stage is linux/amd64, yet --check wants it for linux/s390x")
	}

	// The same content, written differently.
	var doc any
	json.Unmarshal([]byte(good), &doc)
	compact, _ := json.Marshal(doc)
	write(t, "Dockerfile.sdk.lock", string(compact))
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock: not written the way sdkfront lock writes it")

	// Not a lock at all.
	write(t, "Dockerfile.sdk.lock", `{"version": 2, "sdks": []}`)
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "Dockerfile.sdk.lock: SDK lockfile version 2 is not supported",
		"Dockerfile.sdk.lock is not a valid lock: fix or delete it, or replace it with: sdkfront lock --update\n")

	write(t, "Dockerfile.sdk.lock", good)
	wantCode(t, must(sdkfront(t, check...)), exitOK)
	if reg.requests.Load() != n {
		t.Errorf("--check made %d registry requests", reg.requests.Load()-n)
	}
}

// Errors name the Dockerfile as given and the line, one per failing line,
// and nothing is written.
func TestLockErrors(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	reg.seed(t)
	df := strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM scratch
SDK golang@1.23
SDK golang@>>1
RUN --mount=type=sdk,ref=golang@9,target=/go true
SDK nosuch@1
SDK python@3.11 --flavor=bullseye --to
`, "REGISTRY", reg.host)
	write(t, filepath.Join(dir, "sub", "app.Dockerfile"), df)
	code, stdout, stderr := sdkfront(t, "lock", "-f", "sub/app.Dockerfile")
	wantCode(t, code, exitError)
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	want := []string{
		`^sub/app.Dockerfile:4: invalid SDK reference "golang@>>1": `,
		`^sub/app.Dockerfile:7: .*--to`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %q", i+1, lines[i], re)
		}
	}

	// With the syntax fixed, the lines that do not resolve.
	df = strings.Replace(df, "SDK golang@>>1\n", "SDK golang@>=1\n", 1)
	df = strings.Replace(df, " --to\n", "\n", 1)
	write(t, "sub/app.Dockerfile", df)
	code, _, stderr = sdkfront(t, "lock", "-f", "sub/app.Dockerfile", "--platform", "linux/amd64")
	wantCode(t, code, exitError)
	lines = strings.Split(strings.TrimSpace(stderr), "\n")
	want = []string{
		`^resolving 5 SDKs for linux/amd64$`,
		`^sub/app.Dockerfile:5: SDK golang@9: no golang version matches "9" \(flavor bookworm\); nearest available: `,
		`^sub/app.Dockerfile:6: SDK nosuch@1: .*no SDK repository ` + regexp.QuoteMeta(reg.host) + `/sdks/nosuch`,
		`^sub/app.Dockerfile.sdk.lock not written$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d: %q does not match %q", i+1, lines[i], re)
		}
	}
	if _, err := os.Stat("sub/app.Dockerfile.sdk.lock"); !os.IsNotExist(err) {
		t.Errorf("a lock was written: %v", err)
	}

	// sdkfront's own directives, and a Dockerfile that is not there.
	write(t, "Dockerfile", "# sdk-sauce=x\nFROM scratch\nSDK golang@1\n")
	code, _, stderr = sdkfront(t, "lock")
	wantCode(t, code, exitError)
	wantLines(t, stderr, `Dockerfile:1: unknown parser directive "sdk-sauce"`)
	code, _, stderr = sdkfront(t, "lock", "-f", "nope/Dockerfile")
	wantCode(t, code, exitError)
	wantLines(t, stderr, "nope/Dockerfile: open nope/Dockerfile: no such file or directory\n")
}

// The lock command logs in with the docker config's credentials.
func TestLockCredentials(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "dev", "s3cret")
	reg.seed(t)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", reg.host))

	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitError)
	wantLines(t, stderr, "access denied by registry "+reg.host, "try docker login "+reg.host+"\n", "Dockerfile.sdk.lock not written")
	if !regexp.MustCompile(`(?m)^Dockerfile:6: SDK golang@1.23: cannot list tags of `).MatchString(stderr) {
		t.Errorf("no error at line 6")
	}

	auth := base64.StdEncoding.EncodeToString([]byte("dev:s3cret"))
	write(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.host, auth))
	code, _, _ = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	golden(t, "sample.sdk.lock.golden", reg.host, read(t, "Dockerfile.sdk.lock"))
}

// The lock command sends the docker config's credentials to a token
// service on another host than the registry's only if SDK_AUTH_REALMS
// names it; without it, the error says which service and the variable.
func TestLockAuthRealms(t *testing.T) {
	dir := isolate(t)
	inner := newRegistry(t, "", "")
	inner.seed(t)
	var goodTokens atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := "anonymous"
		if u, p, ok := r.BasicAuth(); ok && u == "dev" && p == "s3cret" {
			token = "good"
			goodTokens.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q}`, token)
	}))
	t.Cleanup(tokens.Close)
	// The registry is 127.0.0.1, its token service localhost: another host.
	realm := "http://localhost:" + strings.TrimPrefix(tokens.URL, "http://127.0.0.1:") + "/token"
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="sdks"`, realm))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		r.Header.Del("Authorization")
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	host := strings.TrimPrefix(front.URL, "http://")
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", host))
	auth := base64.StdEncoding.EncodeToString([]byte("dev:s3cret"))
	write(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, host, auth))

	t.Setenv("SDK_AUTH_REALMS", "")
	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitError)
	if want := "did not send your credentials for " + host + " to the token service it names, " + realm + ", as that is on another host; if you trust it with them, name its host in SDK_AUTH_REALMS"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to say %q", stderr, want)
	}
	if goodTokens.Load() != 0 {
		t.Errorf("the credentials went to %s %d times", realm, goodTokens.Load())
	}

	t.Setenv("SDK_AUTH_REALMS", "other.test, localhost")
	code, _, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	if goodTokens.Load() == 0 {
		t.Errorf("the credentials never went to %s; stderr %q", realm, stderr)
	}
	golden(t, "sample.sdk.lock.golden", host, read(t, "Dockerfile.sdk.lock"))
}

func TestNoSDKLines(t *testing.T) {
	isolate(t)
	write(t, "Dockerfile", "FROM scratch\nCOPY . /\n")
	code, stdout, stderr := sdkfront(t, "lock")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "Dockerfile has no SDK lines: nothing to lock\n")
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	if _, err := os.Stat("Dockerfile.sdk.lock"); !os.IsNotExist(err) {
		t.Error("a lock was written")
	}
	wantCode(t, must(sdkfront(t, "lock", "--check")), exitOK)

	// A lock whose lines are all gone is emptied, and --check says so first.
	write(t, "Dockerfile.sdk.lock", `{
  "version": 1,
  "sdks": [
    {
      "ref": "golang@1.23",
      "flavor": "bookworm",
      "source": "x/{platform}:{flavor}-{version}",
      "version": "1.23.4",
      "repository": "x/golang",
      "tag": "bookworm-1.23.4",
      "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "platforms": {
        "linux/amd64": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      }
    }
  ]
}
`)
	wantCode(t, must(sdkfront(t, "lock", "--check")), exitOutOfDate)
	code, _, stderr = sdkfront(t, "lock")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23 (bookworm): removed, no SDK line uses it\n", "wrote Dockerfile.sdk.lock (1 removed)\n")
	if got := read(t, "Dockerfile.sdk.lock"); got != "{\n  \"version\": 1,\n  \"sdks\": []\n}\n" {
		t.Errorf("lock %q", got)
	}
}

func TestUsage(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		args []string
		code int
		out  string // on stdout for 0, stderr otherwise
	}{
		{nil, exitUsage, "Usage: sdkfront <command>"},
		{[]string{"nope"}, exitUsage, `sdkfront: unknown command "nope"`},
		{[]string{"help"}, exitOK, "Usage: sdkfront <command>"},
		{[]string{"--help"}, exitOK, "Usage: sdkfront <command>"},
		{[]string{"help", "lock"}, exitOK, "Exit codes:\n  0  the lock is up to date"},
		{[]string{"lock", "--help"}, exitOK, "Usage: sdkfront lock [-f Dockerfile]"},
		{[]string{"lock", "-h"}, exitOK, "  3  --check: the lock is out of date\n"},
		{[]string{"version"}, exitOK, "sdkfront dev\n"},
		{[]string{"--version"}, exitOK, "sdkfront dev\n"},
		{[]string{"version", "x"}, exitUsage, `unexpected argument "x"`},
		{[]string{"lock", "--nope"}, exitUsage, "sdkfront lock: flag provided but not defined: -nope\nRun 'sdkfront lock --help' for usage.\n"},
		{[]string{"lock", "golang"}, exitUsage, `unexpected argument "golang": SDKs to re-resolve follow --update`},
		{[]string{"lock", "--check", "--update"}, exitUsage, "--check and --update do not go together"},
		{[]string{"lock", "--platform", "linux/amd64,bogus/x/y/z"}, exitUsage, `invalid value "linux/amd64,bogus/x/y/z" for flag -platform`},
		{[]string{"lock", "--build-arg", "=x"}, exitUsage, `want K=V or K, not "=x"`},
		{[]string{"lock", "-f", "-"}, exitUsage, "-f -: the Dockerfile must be a file"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		got := errb.String()
		if tc.code == exitOK {
			got = out.String()
		}
		if code != tc.code || !strings.Contains(got, tc.out) {
			t.Errorf("sdkfront %q: exit %d, want %d; output:\n%s%s\nwant it to contain %q", tc.args, code, tc.code, out.String(), errb.String(), tc.out)
		}
	}
}

func TestParseLockFlags(t *testing.T) {
	t.Setenv("FROM_ENV", "20")
	o, err := parseLockFlags([]string{
		"--update", "golang", "-f", "app.Dockerfile", "nodejs@20", "--build-arg", "A=1", "--build-arg=B=x=y",
		"--build-arg", "FROM_ENV", "--build-arg", "UNSET_IN_ENV_12345", "--platform", "arm64,linux/amd64",
		"--platform=linux/arm64/v8", "--", "--weird",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.file != "app.Dockerfile" || !o.update || o.check {
		t.Errorf("opts %+v", o)
	}
	if got := strings.Join(o.names, " "); got != "golang nodejs@20 --weird" {
		t.Errorf("names %q", got)
	}
	if got := fmt.Sprint(o.buildArgs); got != "map[A:1 B:x=y FROM_ENV:20]" {
		t.Errorf("build args %s", got)
	}
	if got := (platformList{&o.platforms}).format(); got != "linux/arm64, linux/amd64" {
		t.Errorf("platforms %s", got)
	}
	o, err = parseLockFlags(nil)
	if err != nil || o.file != "Dockerfile" || len(o.platforms) != 1 || o.platforms[0].OS != "linux" {
		t.Errorf("defaults %+v, %v", o, err)
	}
}

// A lock that does not parse stops sdkfront lock, unless --update replaces
// it; --check calls it invalid.
func TestInvalidLock(t *testing.T) {
	setup(t)
	write(t, "Dockerfile.sdk.lock", `{"version": 1, "sdks": [{"ref": "golang@1.23"}]}`)
	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "Dockerfile.sdk.lock: SDK lockfile entry 1 (golang@1.23): ref, flavor and source must be set\nFix or delete it, or replace it with: sdkfront lock --update\n")
	wantCode(t, must(sdkfront(t, lockArgs("--check")...)), exitInvalid)
	wantCode(t, must(sdkfront(t, lockArgs("--update", "golang")...)), exitInvalid)

	code, _, stderr = sdkfront(t, lockArgs("--update")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "; --update replaces it\n", "wrote Dockerfile.sdk.lock (4 added)\n")
	wantCode(t, must(sdkfront(t, lockArgs("--check")...)), exitOK)
}

// "<platform>@file:<path>" reads the version from the build context or a
// named one; the lock keys on what the file said.
func TestLockVersionFile(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	reg.seed(t)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM scratch
SDK python@file:.python-version --flavor=bullseye
RUN --mount=type=sdk,ref=nodejs@file:web:.nvmrc,target=/opt/node true
`, "REGISTRY", reg.host))
	write(t, ".python-version", "3.11\n")
	write(t, "web/.nvmrc", "v20.9\n")
	args := []string{"lock", "--build-context", "web=web"}

	code, _, stderr := sdkfront(t, args...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "python@file:.python-version -> 3.11.9 (bullseye) ", "nodejs@file:web:.nvmrc -> 20.9.0 (bookworm) ")
	f := lockFile(t)
	if len(f.SDKs) != 2 || f.SDKs[0].Constraint != "20.9" || f.SDKs[1].Constraint != "3.11" {
		t.Errorf("entries %+v", f.SDKs)
	}
	validateSchema(t, read(t, "Dockerfile.sdk.lock"))
	wantCode(t, must(sdkfront(t, append(args, "--check")...)), exitOK)

	// The file changed: the entry no longer fits.
	write(t, ".python-version", "3.12\n")
	code, _, stderr = sdkfront(t, append(args, "--check")...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:3: python@file:.python-version (bullseye, 3.12 from the file) is not locked\n",
		"Dockerfile.sdk.lock: python@file:.python-version (bullseye, 3.11 from the file) is locked, but no SDK line of Dockerfile uses it\n")
	code, _, stderr = sdkfront(t, args...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "python@file:.python-version -> 3.12.1 (bullseye) ",
		"python@file:.python-version (bullseye, 3.11 from the file): removed, no SDK line uses it\n",
		"wrote Dockerfile.sdk.lock (1 added, 1 removed, 1 unchanged)\n")

	// Files that cannot be read fail at their lines.
	write(t, ".dockerignore", ".python-version\n")
	code, _, stderr = sdkfront(t, "lock")
	wantCode(t, code, exitError)
	wantLines(t, stderr,
		"Dockerfile:3: SDK python@file:.python-version: .python-version is not in the build context . (or .dockerignore excludes it)\n",
		`Dockerfile:4: SDK nodejs@file:web:.nvmrc: there is no build context named "web": pass it with --build-context web=<dir>`+"\n")
	// <Dockerfile>.dockerignore wins over .dockerignore.
	write(t, "Dockerfile.dockerignore", "nothing\n")
	wantCode(t, must(sdkfront(t, append(args, "--check")...)), exitOK)
	write(t, ".nvmrc", "lts/*\n")
	code, _, stderr = sdkfront(t, "lock", "--build-context", "web=.")
	wantCode(t, code, exitError)
	wantLines(t, stderr, "Dockerfile:4: SDK nodejs@file:web:.nvmrc: ")
}

// An SDK whose layer names foreign URLs is not locked unless
// SDK_ALLOW_FOREIGN_URLS names their host: a build does not check what
// the lock pins.
func TestLockForeignURLs(t *testing.T) {
	dir := isolate(t)
	reg := newRegistry(t, "", "")
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: static.NewLayer([]byte("go1.23.4 foreign"), types.OCILayer),
		URLs:  []string{"https://cdn.example.com/blobs/go.tar.gz"},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg.push(t, "sdks/golang:bookworm-1.23.4", mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON))
	write(t, filepath.Join(dir, "Dockerfile"), "# sdk-source="+reg.host+"/sdks/{platform}:{flavor}-{version}\nFROM scratch\nSDK golang@1.23.4\n")

	code, _, stderr := sdkfront(t, "lock")
	wantCode(t, code, exitError)
	wantLines(t, stderr, "Dockerfile:3: SDK golang@1.23.4: ", "carries foreign URLs (https://cdn.example.com/blobs/go.tar.gz)")
	wantCode(t, must(sdkfront(t, "lock", "--build-arg", "SDK_ALLOW_FOREIGN_URLS=cdn.example.com")), exitOK)
}
