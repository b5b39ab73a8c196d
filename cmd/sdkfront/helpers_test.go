package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// sdkImage is a deterministic SDK image in the seeds layout: one layer
// (its bytes are what, so every SDK has its own digest), a config with one
// diff_id, OCI media types, and labels.
func sdkImage(t *testing.T, what, platform string, labels map[string]string) testregistry.Image {
	t.Helper()
	return testregistry.NewImage(t, platform, labels, testregistry.Blob([]byte(what+" "+platform)))
}

// sdkIndex is an index of one sdkImage per platform.
func sdkIndex(t *testing.T, what string, platforms ...string) testregistry.Index {
	t.Helper()
	var imgs []testregistry.Image
	for _, p := range platforms {
		imgs = append(imgs, sdkImage(t, what, p, nil))
	}
	return testregistry.NewIndex(t, imgs...)
}

// seed pushes the SDKs of the sample Dockerfile.
func seed(t *testing.T, r *testregistry.Registry) {
	t.Helper()
	r.Push(t, "sdks/golang:bookworm-1.22.10", sdkImage(t, "go1.22.10", "linux/amd64", nil))
	r.Push(t, "sdks/golang:bookworm-1.23.4", sdkIndex(t, "go1.23.4", "linux/amd64", "linux/arm64"))
	r.Push(t, "sdks/golang:bullseye-1.23.9", sdkIndex(t, "go1.23.9-bullseye", "linux/amd64", "linux/arm64"))
	r.Push(t, "sdks/nodejs:bookworm-20.9.0", sdkIndex(t, "node20.9.0", "linux/amd64", "linux/arm64"))
	r.Push(t, "sdks/nodejs:bookworm-20.11.1", sdkIndex(t, "node20.11.1", "linux/amd64", "linux/arm64"))
	r.Push(t, "sdks/nodejs:bookworm-default", sdkImage(t, "node20.11.1", "linux/amd64", map[string]string{"org.oryx.version": "20.11.1"}))
	r.Push(t, "sdks/python:bullseye-3.11.9", sdkImage(t, "python3.11.9", "linux/amd64", nil))
	r.Push(t, "sdks/python:bullseye-3.12.1", sdkImage(t, "python3.12.1", "linux/amd64", nil))
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
func setup(t *testing.T) *testregistry.Registry {
	t.Helper()
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", reg.Host))
	return reg
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
