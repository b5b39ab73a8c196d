package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExampleThroughSyntaxLine builds examples/Dockerfile.sdk the way a user
// does: the stock Dockerfile frontend reads "# syntax=" and hands over.
func TestExampleThroughSyntaxLine(t *testing.T) {
	examples, _ := filepath.Abs("../examples")
	r := buildctl(t, examples, "--opt", "filename=Dockerfile.sdk", "--no-cache").mustSucceed(t)
	if got := r.file(t, "result.txt"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("result.txt = %q, want the program built with go1.23.4", got)
	}
	for _, want := range []string{"[sdk] golang@1.23 -> 1.23.4 (bookworm)", "[sdk] nodejs@20 -> 20.18.0 (bookworm)", "v20.18.0"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("progress does not show %q", want)
		}
	}
}

// exportOut ends a test Dockerfile with a stage holding only /out, so that
// the local export stays small (a busybox stage with a Go toolchain is ~11k
// files, and large local exports can hang BuildKit: moby/buildkit#2950).
const exportOut = "FROM scratch\nCOPY --from=0 /out /\n"

// TestGatewayFrontendOpt uses sdkfront directly as the gateway frontend,
// with no "# syntax=" line, a build arg in the reference, and Oryx's layout.
func TestGatewayFrontendOpt(t *testing.T) {
	df := "FROM " + lab.registry + "/lab/busybox\nARG GO_VERSION=1.23\n" +
		"SDK " + lab.registry + "/oryx/golang-sdk@${GO_VERSION}\n" +
		"RUN mkdir /out && go version > /out/version.txt\n" + exportOut
	dir := project(t, df, map[string]string{})
	r := buildctl(t, dir, "--frontend", "gateway.v0", "--opt", "source="+lab.frontend,
		"--opt", "build-arg:GO_VERSION=1.22").mustSucceed(t)
	if got := r.file(t, "version.txt"); !strings.Contains(got, "go1.22.10") {
		t.Errorf("go version = %q, want go1.22.10", got)
	}
}

// TestBuildx goes through docker buildx on the remote driver, including a
// --call subrequest.
func TestBuildx(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut)
	dir := project(t, df, map[string]string{})
	out := t.TempDir()
	r := run(t, out, "docker", "buildx", "build", "--builder", lab.builder, "--progress", "plain",
		"--output", "type=local,dest="+out, dir).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	chk := run(t, "", "docker", "buildx", "build", "--builder", lab.builder, "--call", "check", dir).mustSucceed(t)
	if !strings.Contains(chk.String(), "Check complete") {
		t.Errorf("--call check did not run the checks:\n%s", tail(chk.String(), 20))
	}
}

// TestLazyPull proves from the registry's access log that the SDK layer is
// fetched when a step uses it, and not at all when that step is cached. The
// SDK is pushed fresh with unique content, so no daemon has it yet.
func TestLazyPull(t *testing.T) {
	version := fmt.Sprintf("1.0.%d", time.Now().UnixNano()%1_000_000_000)
	layer := pushSDK(t, "sdks/lazy:bookworm-"+version, map[string]string{
		"bin/lazy": "#!/bin/sh\necho lazy " + version + "\n",
	})
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK lazy@" + version + "\nRUN mkdir /out && lazy > /out/v\n" + exportOut)
	dir := project(t, df, map[string]string{})

	mark := markLog(t)
	first := buildctl(t, dir).mustSucceed(t)
	if got := first.file(t, "v"); !strings.Contains(got, "lazy "+version) {
		t.Fatalf("the SDK printed %q, want %q", got, "lazy "+version)
	}
	if n := len(mark.requests(t, `"GET /v2/sdks/lazy/blobs/`+layer)); n < 1 {
		t.Fatalf("first build never fetched the SDK layer %s", layer)
	}

	mark = markLog(t)
	second := buildctl(t, dir).mustSucceed(t)
	if !regexp.MustCompile(`RUN mkdir /out && lazy > /out/v\n(#\d+ )?CACHED`).MatchString(second.err) {
		t.Errorf("second build did not hit the cache:\n%s", tail(second.err, 30))
	}
	// (This SDK's layer is small enough to be an empty tar, so sdkfront
	// reads its config, 200-odd bytes, to tell; a real SDK's is not.)
	if got := mark.requests(t, " /v2/sdks/lazy/blobs/"+layer); len(got) != 0 {
		t.Errorf("cached build fetched the SDK layer:\n%s", strings.Join(got, "\n"))
	}
	if got := mark.requests(t, " /v2/sdks/lazy/"); len(got) == 0 {
		t.Errorf("the registry log shows no request for sdks/lazy on the second build; is it logging?")
	}
}

// TestLayouts: a FROM scratch stage can hold SDKs of both layouts, with
// nothing but BuildKit file operations; unpack=false mounts the tarball.
func TestLayouts(t *testing.T) {
	df := header(`FROM scratch AS sdks
SDK nodejs@20.11
SDK python@3.11.9 --flavor=bullseye --to=/py
SDK ` + lab.registry + `/oryx/python-sdk@3.11.9 --to=/oryx
FROM ` + lab.registry + `/lab/busybox AS check
RUN --mount=type=sdk,ref=python@3.12,unpack=false,target=/tarball \
    mkdir /out && ls /tarball > /out/tarball.txt
FROM scratch
COPY --from=sdks / /
COPY --from=check /out /out
`)
	r := buildctl(t, project(t, df, map[string]string{})).mustSucceed(t)
	for name, want := range map[string]string{
		"opt/nodejs/20.11.1/bin/node": "v20.11.1", // the layer is the tree
		"py/bin/python3":              "3.11.9",   // sdk.tar.gz inside the layer
		"oryx/bin/python3":            "3.11.9",   // Oryx's python-bookworm-3.11.9.tar.gz
		"out/tarball.txt":             "sdk.tar.gz",
	} {
		if got := r.file(t, name); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", name, got, want)
		}
	}
}

// TestTagPaging resolves a partial version whose newest match is only
// found by following the registry's Link headers past the first page.
func TestTagPaging(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK python@3.10\nRUN mkdir /out && python3 --version > /out/v\n" + exportOut)
	mark := markLog(t)
	r := buildctl(t, project(t, df, map[string]string{})).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "3.10.149") {
		t.Errorf("python3 --version = %q, want the newest 3.10 (3.10.149)", got)
	}
	if pages := mark.requests(t, `"GET /v2/sdks/python/tags/list`); len(pages) < 2 {
		t.Errorf("tags were listed in %d request(s), want several pages:\n%s", len(pages), strings.Join(pages, "\n"))
	}
}

// TestImageIndex resolves a multi-platform SDK for the build's target.
func TestImageIndex(t *testing.T) {
	df := header("FROM scratch\nSDK multi@1.0.0 --to=/sdk\n")
	dir := project(t, df, map[string]string{})
	for _, arch := range []string{"amd64", "arm64"} {
		r := buildctl(t, dir, "--opt", "platform=linux/"+arch).mustSucceed(t)
		var found bool
		_ = filepath.Walk(filepath.Join(r.outDir, "sdk"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				dt, _ := os.ReadFile(p)
				found = found || strings.Contains(string(dt), arch)
			}
			return nil // a missing file shows in the check below
		})
		if !found {
			t.Errorf("the SDK unpacked for linux/%s does not mention %s", arch, arch)
		}
	}
}

// TestErrors: each mistake fails with a message that says what is wrong
// and points at the user's own Dockerfile line.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, line string
		want       []string
	}{
		{"no matching version", "SDK golang@1.99", []string{"1.99", "nearest", "1.23.4"}},
		{"unknown platform", "SDK cobol@1", []string{"cobol"}},
		{"unknown flavor", "SDK golang@1.23 --flavor=alpine", []string{"alpine", "bookworm"}},
		{"two layers", "SDK broken@1.0.0", []string{"2 layers"}},
		{"empty layer", "SDK broken@2.0.0", []string{"empty"}},
		{"malformed mount", "RUN --mount=type=sdk,ref=golang@1.23 true", []string{"target="}},
		{"unreachable registry", "SDK 127.0.0.1:1/sdks/golang@1.23", []string{"127.0.0.1:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := header("FROM " + lab.registry + "/lab/busybox\n" + c.line + "\nRUN true\n")
			r := buildctl(t, project(t, df, map[string]string{})).mustFail(t)
			for _, w := range append(c.want, "Dockerfile:4", c.line) {
				if !strings.Contains(r.err, w) {
					t.Errorf("error output does not contain %q:\n%s", w, tail(r.err, 25))
				}
			}
		})
	}
}

// TestRunFailureShowsTheUsersLines: the daemon reports a failing RUN after
// the frontend has returned; it must still show the user's text and lines,
// although the rewrite added a line for PATH.
func TestRunFailureShowsTheUsersLines(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN echo about to fail && exit 3\n")
	r := buildctl(t, project(t, df, map[string]string{})).mustFail(t)
	for _, want := range []string{"Dockerfile:5", "SDK golang@1.23", ">>> RUN echo about to fail && exit 3"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("error output lacks %q:\n%s", want, tail(r.err, 25))
		}
	}
	for _, bad := range []string{"COPY --from=sdkfront-", "ENV PATH=\"/opt/golang"} {
		if strings.Contains(r.err, bad) {
			t.Errorf("error output shows the rewritten Dockerfile (%q):\n%s", bad, tail(r.err, 25))
		}
	}
}

// TestStockFeaturesSurvive: what the rewrite must not break — a Dockerfile
// in a subdirectory with its own .dockerignore, a user's named context, and
// --target — all in one build with an SDK line.
func TestStockFeaturesSurvive(t *testing.T) {
	df := header(`FROM ` + lab.registry + `/lab/busybox AS build
SDK python@3.11.9
COPY . /ctx
RUN mkdir /out && python3 --version > /out/v && ls /ctx > /out/ls && cat /etc/base-marker > /out/base
FROM scratch AS final
COPY --from=build /out /
FROM scratch AS other
COPY --from=build /ctx /ctx
`)
	// base is a named context: a stage of the user's picked from outside.
	df = strings.Replace(df, "FROM "+lab.registry+"/lab/busybox AS build", "FROM base AS build", 1)
	dir := project(t, "unused", map[string]string{
		"keep.txt":                           "kept",
		"secret.txt":                         "must be ignored",
		"sub/Custom.Dockerfile":              df,
		"sub/Custom.Dockerfile.dockerignore": "secret.txt\n",
	})
	baseDir := project(t, "FROM "+lab.registry+"/lab/busybox\nRUN echo from-named-context > /etc/base-marker\n", map[string]string{})
	base := lab.registry + "/e2e/base:latest"
	run(t, "", bin("buildctl"), "--addr", lab.addr, "build", "--frontend", "dockerfile.v0",
		"--local", "context="+baseDir, "--local", "dockerfile="+baseDir,
		"--output", "type=image,name="+base+",push=true,registry.insecure=true").mustSucceed(t)
	r := buildctl(t, dir, "--opt", "filename=sub/Custom.Dockerfile", "--opt", "target=final",
		"--opt", "context:base=docker-image://"+base).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "3.11.9") {
		t.Errorf("python3 --version = %q", got)
	}
	ls := r.file(t, "ls")
	if !strings.Contains(ls, "keep.txt") || strings.Contains(ls, "secret.txt") {
		t.Errorf("context listing %q: want keep.txt and not secret.txt (sub/Custom.Dockerfile.dockerignore)", ls)
	}
	if got := r.file(t, "base"); !strings.Contains(got, "from-named-context") {
		t.Errorf("the named context was not used: %q", got)
	}
	if _, err := os.Stat(filepath.Join(r.outDir, "ctx")); err == nil {
		t.Error("--target=final exported the other stage")
	}
}
