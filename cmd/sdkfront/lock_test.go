package main

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

func TestLockGolden(t *testing.T) {
	reg := setup(t)
	code, stdout, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	if stdout != "Dockerfile.sdk.lock\n" {
		t.Errorf("stdout %q, want the lock's path", stdout)
	}
	golden(t, "sample.sdk.lock.golden", reg.Host, read(t, "Dockerfile.sdk.lock"))
	golden(t, "sample.stderr.golden", reg.Host, stderr)
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

	// --check resolves each entry's tag again; --offline needs no registry.
	for _, offline := range []bool{false, true} {
		args := append(lockArgs(), "--check")
		if offline {
			reg.Close()
			args = append(args, "--offline")
		}
		code, stdout, stderr = sdkfront(t, args...)
		wantCode(t, code, exitOK)
		if stderr != "Dockerfile.sdk.lock is up to date (4 SDKs)\n" || stdout != "" {
			t.Errorf("--check (offline: %v) printed %q on stdout, %q on stderr", offline, stdout, stderr)
		}
	}
}

// Errors name the Dockerfile as given and the line, one per failing line,
// and nothing is written.
func TestLockErrors(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	df := strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM scratch
SDK golang@1.23
SDK golang@>>1
RUN --mount=type=sdk,ref=golang@9,target=/go true
SDK nosuch@1
SDK python@3.11 --flavor=bullseye --to
`, "REGISTRY", reg.Host)
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
		`^sub/app.Dockerfile:6: SDK nosuch@1: .*no SDK repository ` + regexp.QuoteMeta(reg.Host) + `/sdks/nosuch`,
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
	reg := testregistry.New(t, testregistry.BasicAuth("dev", "s3cret"))
	seed(t, reg)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", reg.Host))

	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitError)
	wantLines(t, stderr, "access denied by registry "+reg.Host, "try docker login "+reg.Host+"\n", "Dockerfile.sdk.lock not written")
	if !regexp.MustCompile(`(?m)^Dockerfile:6: SDK golang@1.23: cannot list tags of `).MatchString(stderr) {
		t.Errorf("no error at line 6")
	}

	auth := base64.StdEncoding.EncodeToString([]byte("dev:s3cret"))
	write(t, filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"), fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg.Host, auth))
	code, _, _ = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	golden(t, "sample.sdk.lock.golden", reg.Host, read(t, "Dockerfile.sdk.lock"))
}

// The lock command sends the docker config's credentials to a token
// service on another host than the registry's only if SDK_AUTH_REALMS
// names it; without it, the error says which service and the variable.
func TestLockAuthRealms(t *testing.T) {
	dir := isolate(t)
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
	reg := testregistry.New(t, testregistry.BearerAuth(realm, "good"))
	seed(t, reg)
	host := reg.Host
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

// "<platform>@file:<path>" reads the version from the build context or a
// named one; the lock keys on what the file said.
func TestLockVersionFile(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM scratch
SDK python@file:.python-version --flavor=bullseye
RUN --mount=type=sdk,ref=nodejs@file:web:.nvmrc,target=/opt/node true
`, "REGISTRY", reg.Host))
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
	reg := testregistry.New(t)
	layer := testregistry.WithURLs(testregistry.Blob([]byte("go1.23.4 foreign")), "https://cdn.example.com/blobs/go.tar.gz")
	reg.Push(t, "sdks/golang:bookworm-1.23.4", testregistry.NewImage(t, "", nil, layer))
	write(t, filepath.Join(dir, "Dockerfile"), "# sdk-source="+reg.Host+"/sdks/{platform}:{flavor}-{version}\nFROM scratch\nSDK golang@1.23.4\n")

	code, _, stderr := sdkfront(t, "lock")
	wantCode(t, code, exitError)
	wantLines(t, stderr, "Dockerfile:3: SDK golang@1.23.4: ", "carries foreign URLs (https://cdn.example.com/blobs/go.tar.gz)")
	wantCode(t, must(sdkfront(t, "lock", "--build-arg", "SDK_ALLOW_FOREIGN_URLS=cdn.example.com")), exitOK)
}

// A network in SDK_PRIVATE_NETWORKS that is not private fails the lock
// before any registry is asked, naming the variable and the network.
func TestLockPrivateNetworks(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(sample, "REGISTRY", reg.Host))
	t.Setenv("SDK_PRIVATE_NETWORKS", "10.0.0.0/8, 8.8.8.0/24")
	code, _, stderr := sdkfront(t, lockArgs()...)
	wantCode(t, code, exitError)
	if want := `sdkfront lock: SDK_PRIVATE_NETWORKS: "8.8.8.0/24" is not within one private network`; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to say %q", stderr, want)
	}
	t.Setenv("SDK_PRIVATE_NETWORKS", "10.0.0.0/8")
	code, _, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	if strings.Contains(stderr, "SDK_PRIVATE_NETWORKS") {
		t.Errorf("stderr %q names SDK_PRIVATE_NETWORKS", stderr)
	}
	// The build arg, as the frontend reads it, is checked the same way.
	code, _, stderr = sdkfront(t, append(lockArgs(), "--build-arg", "SDK_PRIVATE_NETWORKS=192.168.0.0/16,1.1.1.1/32")...)
	wantCode(t, code, exitError)
	if want := `sdkfront lock: build arg SDK_PRIVATE_NETWORKS: "1.1.1.1/32" is not within one private network`; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, want it to say %q", stderr, want)
	}
}

// sdkfront lock reads registries itself: a registry that does not answer
// must be reachable from this machine, not from buildkitd.
func TestLockUnreachableNamesThisMachine(t *testing.T) {
	dir := isolate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	write(t, filepath.Join(dir, "Dockerfile"), "# sdk-source="+host+"/sdks/{platform}:{flavor}-{version}\nFROM scratch\nSDK golang@1.23\n")
	code, _, stderr := sdkfront(t, "lock")
	wantCode(t, code, exitError)
	if !strings.Contains(stderr, "reachable from this machine") || strings.Contains(stderr, "buildkitd") {
		t.Errorf("stderr %q: want the advice to name this machine", stderr)
	}
}
