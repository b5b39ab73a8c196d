package main

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

// labelledIndex is sdkIndex with each image labelled with version.
func labelledIndex(t *testing.T, what, label, version string, platforms ...string) testregistry.Index {
	t.Helper()
	var imgs []testregistry.Image
	for _, p := range platforms {
		imgs = append(imgs, sdkImage(t, what, p, map[string]string{label: version}))
	}
	return testregistry.NewIndex(t, imgs...)
}

// swapIn makes golang@1.23's entry pin idx, keeping its version and tag,
// and returns idx's digest.
func swapIn(t *testing.T, good string, idx testregistry.Index) digest.Digest {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, good, func(e *lock.Entry) {
		e.Digest = digest.Digest(d.String())
		for _, desc := range m.Manifests {
			e.Platforms[desc.Platform.OS+"/"+desc.Platform.Architecture] = digest.Digest(desc.Digest.String())
		}
	})
	return digest.Digest(d.String())
}

// A lock entry that keeps its version and tag but pins the image of
// another version: sdkfront lock reads the image's version label and
// refuses it (exit 4), and --check resolves the tag again and sees that
// it gives another digest (exit 4); --check --offline cannot see it.
func TestLockedDigestOfAnotherVersion(t *testing.T) {
	reg := setup(t)
	good123 := labelledIndex(t, "go1.23.4", "org.oryx.sdk.version", "1.23.4", "linux/amd64", "linux/arm64")
	reg.Push(t, "sdks/golang:bookworm-1.23.4", good123)
	old := labelledIndex(t, "go1.22.10", "org.oryx.sdk.version", "1.22.10", "linux/amd64", "linux/arm64")
	reg.Push(t, "sdks/golang:bookworm-1.22.10", old)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	goodDigest, _ := good123.Digest()
	evil := swapIn(t, good, old)
	tampered := read(t, "Dockerfile.sdk.lock")

	code, stdout, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitInvalid)
	want := "Dockerfile.sdk.lock: golang@1.23: the tag " + reg.Host + "/sdks/golang:bookworm-1.23.4 points to " + goodDigest.String() +
		", but the lock pins " + evil.String() + ": the tag moved, or the entry's digest is another image's; run sdkfront lock --update golang@1.23 to pin what the tag gives\n" +
		"Dockerfile.sdk.lock is not a valid lock: the registry does not confirm the digests named above\n"
	if stderr != want || stdout != "" {
		t.Errorf("--check printed %q on stdout and on stderr:\n%s\nwant:\n%s", stdout, stderr, want)
	}

	// Offline, only the Dockerfile and the lock are compared.
	code, _, stderr = sdkfront(t, lockArgs("--check", "--offline")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "Dockerfile.sdk.lock is up to date (4 SDKs)\n")

	code, stdout, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitInvalid)
	want = "Dockerfile:6: SDK golang@1.23 is locked in Dockerfile.sdk.lock to 1.23.4, but its digest " + evil.String() +
		" is the image of 1.22.10 (label org.oryx.sdk.version); run sdkfront lock --update golang@1.23\n" +
		"Dockerfile.sdk.lock not written\n"
	if stderr != want || stdout != "" {
		t.Errorf("lock printed %q on stdout and on stderr:\n%s\nwant:\n%s", stdout, stderr, want)
	}
	if read(t, "Dockerfile.sdk.lock") != tampered {
		t.Error("the lock was written")
	}

	// The advice works.
	code, _, stderr = sdkfront(t, lockArgs("--update", "golang@1.23")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23: 1.23.4 -> 1.23.4 (the tag bookworm-1.23.4 moved: "+evil.String()+" -> "+goodDigest.String()+")\n")
	if read(t, "Dockerfile.sdk.lock") != good {
		t.Error("--update did not restore the lock")
	}
	wantCode(t, must(sdkfront(t, lockArgs("--check")...)), exitOK)
}

// An image without a version label cannot show the swap; its tag can:
// --check resolves it again.
func TestCheckSeesUnlabelledSwap(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	goodDigest := lockDigest(t, "golang@1.23")
	evil := swapIn(t, good, sdkIndex(t, "go1.23.9-bullseye", "linux/amd64", "linux/arm64"))

	// Unlabelled, the image passes where the registry is read as pinned.
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)

	code, _, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "Dockerfile.sdk.lock: golang@1.23: the tag "+reg.Host+"/sdks/golang:bookworm-1.23.4 points to "+goodDigest.String()+", but the lock pins "+evil.String()+": ")
	if n := strings.Count(stderr, "\n"); n != 2 {
		t.Errorf("stderr has %d lines, want 2: one for the entry (whatever its platforms), one verdict", n)
	}
}

// Without its registry, --check fails (exit 1) and names --offline.
func TestCheckNeedsTheRegistry(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	reg.Close()
	code, _, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitError)
	wantLines(t, stderr, "sdkfront lock: SDK ", ": cannot read the tag "+reg.Host+"/sdks/", "; --check --offline checks the lock without its registries\n")
	wantCode(t, must(sdkfront(t, lockArgs("--check", "--offline")...)), exitOK)
	code, _, stderr = sdkfront(t, "lock", "--offline")
	wantCode(t, code, exitUsage)
	wantLines(t, stderr, "sdkfront lock: --offline goes with --check: locking reads the registries\n")
}

func lockDigest(t *testing.T, ref string) digest.Digest {
	t.Helper()
	for _, e := range lockFile(t).SDKs {
		if e.Ref == ref {
			return e.Digest
		}
	}
	t.Fatalf("no entry for %s", ref)
	return ""
}

// A tag that gives the locked digest, of an image labelled with another
// version: --check names the label (exit 4).
func TestCheckReadsTheLabel(t *testing.T) {
	reg := setup(t)
	mislabelled := labelledIndex(t, "go1.23.4", "org.oryx.version", "1.22.10", "linux/amd64", "linux/arm64")
	reg.Push(t, "sdks/golang:bookworm-1.23.4", mislabelled)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	d, _ := mislabelled.Digest()
	code, stdout, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitInvalid)
	want := "Dockerfile.sdk.lock: golang@1.23 is locked to 1.23.4, but its digest " + d.String() +
		" is the image of 1.22.10 (label org.oryx.version); run sdkfront lock --update golang@1.23\n" +
		"Dockerfile.sdk.lock is not a valid lock: the registry does not confirm the digests named above\n"
	if stderr != want || stdout != "" {
		t.Errorf("--check printed %q on stdout and on stderr:\n%s\nwant:\n%s", stdout, stderr, want)
	}
}
