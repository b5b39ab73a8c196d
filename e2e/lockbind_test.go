package e2e

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// TestLockBindsDigestToVersion, through buildkitd and the lab registry: a
// lock entry that keeps golang@1.23's version and tag but pins the digest
// of 1.22.10's image (a swap a pull request could hide) fails the build at
// the SDK line, naming both versions, before any RUN, and `sdkfront lock
// --check` exits 4 on it; the true entry builds, and its progress names the
// version the image labels. An unlabelled image (the lab's python) warns
// SDKLockUnbound at its line.
func TestLockBindsDigestToVersion(t *testing.T) {
	source := lab.registry + "/sdks/{platform}:{flavor}-{version}"
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\n" +
		"RUN --mount=type=sdk,ref=python@3.11.9,target=/py mkdir /out && go version > /out/v\n" + exportOut)
	dir := project(t, df, map[string]string{})
	golang := lockEntry(t, "golang@1.23", source, lab.registry+"/sdks/golang", "sdks/golang", "bookworm-1.23.4", "1.23.4")
	python := lockEntry(t, "python@3.11.9", source, lab.registry+"/sdks/python", "sdks/python", "bookworm-3.11.9", "3.11.9")

	swapped := golang
	other := manifestDigest(t, "sdks/golang", "bookworm-1.22.10")
	swapped.Digest = other
	swapped.Platforms = map[string]digest.Digest{"linux/amd64": other}
	writeLock(t, dir, swapped, python)
	r := buildctl(t, dir).mustFail(t)
	for _, w := range []string{
		`Dockerfile:4`,
		`golang@1.23 is locked in Dockerfile.sdk.lock to 1.23.4, but its digest ` + other.String() + ` is the image of 1.22.10 (label org.oryx.version); run sdkfront lock --update golang@1.23`,
		">>> SDK golang@1.23",
	} {
		if !strings.Contains(r.err, w) {
			t.Errorf("the swapped lock's build output lacks %q:\n%s", w, tail(r.err, 30))
		}
	}
	if strings.Contains(r.err, "] RUN ") {
		t.Errorf("a RUN step ran with a swapped digest:\n%s", tail(r.err, 30))
	}
	out, code := sdkfrontCLI(t, dir, "lock", "--check")
	if code != 4 || !strings.Contains(out, "golang@1.23: the tag "+lab.registry+"/sdks/golang:bookworm-1.23.4 points to "+golang.Digest.String()+", but the lock pins "+other.String()) {
		t.Errorf("sdkfront lock --check on the swapped lock: exit %d, want 4 naming both digests:\n%s", code, out)
	}
	if out, code := sdkfrontCLI(t, dir, "lock", "--check", "--offline"); code != 0 {
		t.Errorf("sdkfront lock --check --offline, which cannot see a swap: exit %d, want 0\n%s", code, out)
	}

	writeLock(t, dir, golang, python)
	r = buildctl(t, dir).mustSucceed(t)
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q", got)
	}
	for _, w := range []string{
		"[sdk] golang@1.23 -> 1.23.4 (bookworm, locked) " + lab.registry + "/sdks/golang@" + golang.Digest.String() + " (image labelled 1.23.4)",
		"[sdk] python@3.11.9 -> 3.11.9 (bookworm, locked) " + lab.registry + "/sdks/python@" + python.Digest.String() + " (image version unchecked)",
	} {
		if !strings.Contains(r.err, w) {
			t.Errorf("progress lacks %q:\n%s", w, tail(r.err, 40))
		}
	}
	want := "SDKLockUnbound: SDK python@3.11.9 is locked to 3.11.9, but the image " + lab.registry + "/sdks/python@" + python.Digest.String() +
		" has no version label (org.oryx.version or org.oryx.sdk.version), so sdkfront could not check that it is that version's; `sdkfront lock --check` checks that the entry's tag still points to it (line 5)"
	r = buildctl(t, dir, "--progress", "rawjson").mustSucceed(t)
	warnings := rawWarnings(t, r.err)
	if _, ok := warnings[want]; !ok {
		var got []string
		for w := range warnings {
			got = append(got, w)
		}
		t.Errorf("no warning %q; the build warned:\n%s", want, strings.Join(got, "\n"))
	}
	for w := range warnings {
		if strings.Contains(w, "golang@1.23") {
			t.Errorf("a warning about the labelled golang image: %s", w)
		}
	}
}
