package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

// tamper rewrites the lock with golang@1.23's entry changed by edit.
func tamper(t *testing.T, good string, edit func(e *lock.Entry)) {
	t.Helper()
	f, err := lock.Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for i := range f.SDKs {
		if f.SDKs[i].Ref == "golang@1.23" {
			edit(&f.SDKs[i])
		}
	}
	write(t, "Dockerfile.sdk.lock", string(f.Marshal()))
}

// An entry that breaks the lock's rules: --check exits 4 and names it;
// locking replaces it, and never calls it unchanged.
func TestInvalidEntry(t *testing.T) {
	reg := setup(t)
	evil := sdkImage(t, "evil", "linux/amd64", nil)
	reg.Push(t, "sdks/evil:bookworm-1.23.4", evil)
	evilDigest, _ := evil.Digest()
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	key := "Dockerfile.sdk.lock: entry golang@1.23 (bookworm, " + reg.Host + "/sdks/{platform}:{flavor}-{version}): "

	for _, tc := range []struct {
		name string
		edit func(e *lock.Entry)
		want string
	}{
		{"evil repository", func(e *lock.Entry) {
			e.Repository = reg.Host + "/sdks/evil"
			e.Digest = digest.Digest(evilDigest.String())
			for p := range e.Platforms {
				e.Platforms[p] = e.Digest
			}
		}, `repository "` + reg.Host + `/sdks/evil" is not the one the source template gives for golang ("` + reg.Host + `/sdks/golang")`},
		{"version with a quote and a newline", func(e *lock.Entry) { e.Version = "1.23.4\"\nENV PATH=/evil" },
			`version "1.23.4\"\nENV PATH=/evil" is not a version: want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128`},
		{"tag of another version", func(e *lock.Entry) { e.Tag = "bookworm-1.22.10" },
			`tag "bookworm-1.22.10" is not the one the source template gives for flavor bookworm and version 1.23.4 ("bookworm-1.23.4")`},
		{"version outside the constraint", func(e *lock.Entry) { e.Version, e.Tag = "1.24.0", "bookworm-1.24.0" },
			`version "1.24.0" does not satisfy the reference's constraint "1.23"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tamper(t, good, tc.edit)
			code, stdout, stderr := sdkfront(t, lockArgs("--check")...)
			wantCode(t, code, exitInvalid)
			wantLines(t, stderr, key+tc.want+"\n",
				"Dockerfile.sdk.lock is not a valid lock: run sdkfront lock --platform linux/amd64,linux/arm64 with the same --build-arg flags (GO_VERSION), which replaces its invalid entries\n")
			if stdout != "" || strings.Count(stderr, "\n") != 2 {
				t.Errorf("stdout %q; stderr has %d lines, want 2", stdout, strings.Count(stderr, "\n"))
			}

			code, stdout, stderr = sdkfront(t, lockArgs()...)
			wantCode(t, code, exitOK)
			wantLines(t, stderr, "golang@1.23: replaced an invalid entry ("+tc.want+") -> 1.23.4 (bookworm) "+reg.Host+"/sdks/golang@sha256:",
				"wrote Dockerfile.sdk.lock (1 replaced, 3 unchanged)\n")
			if stdout != "Dockerfile.sdk.lock\n" {
				t.Errorf("stdout %q", stdout)
			}
			if got := read(t, "Dockerfile.sdk.lock"); got != good {
				t.Errorf("the replaced lock differs:\n%s", got)
			}
			wantCode(t, must(sdkfront(t, lockArgs("--check")...)), exitOK)
		})
	}
}

// An invalid entry no line uses is removed, and said to be invalid.
func TestInvalidUnusedEntry(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	f, _ := lock.Parse([]byte(good))
	e := f.SDKs[0]
	e.Ref, e.Version, e.Tag = "golang@1.21", "1.21.0\n", "bookworm-1.21.0"
	f.SDKs = append(f.SDKs, e)
	write(t, "Dockerfile.sdk.lock", string(f.Marshal()))

	code, _, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "Dockerfile.sdk.lock: entry golang@1.21 (bookworm, "+reg.Host+"/sdks/{platform}:{flavor}-{version}): version \"1.21.0\\n\" is not a version")
	code, _, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.21 (bookworm, "+reg.Host+"/sdks/{platform}:{flavor}-{version}): removed an invalid entry no SDK line uses (version \"1.21.0\\n\" is not a version",
		"wrote Dockerfile.sdk.lock (1 removed, 4 unchanged)\n")
	if got := read(t, "Dockerfile.sdk.lock"); got != good {
		t.Errorf("lock differs:\n%s", got)
	}
}

// A lock larger than 1 MiB is refused unread, by --check and by lock;
// --update replaces it.
func TestOversizeLock(t *testing.T) {
	setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	write(t, "Dockerfile.sdk.lock", good+string(bytes.Repeat([]byte("\n"), 2*lock.MaxSize)))
	const msg = "Dockerfile.sdk.lock: invalid SDK lockfile: larger than 1 MiB (1048576 bytes), the most a lock may hold\n"
	code, _, stderr := sdkfront(t, lockArgs("--check")...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, msg)
	code, _, stderr = sdkfront(t, lockArgs()...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, msg+"Fix or delete it, or replace it with: sdkfront lock --update\n")
	code, _, stderr = sdkfront(t, lockArgs("--update")...)
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "; --update replaces it\n")
	if got := read(t, "Dockerfile.sdk.lock"); got != good {
		t.Errorf("lock differs:\n%s", got)
	}
}

// What locking would write is checked as a build reads it: an entry the
// build would refuse is an error at the line, and nothing is written.
func TestLockWritesOnlyValidEntries(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:1.23.4", sdkImage(t, "go1.23.4", "linux/amd64", nil))
	write(t, dir+"/Dockerfile", "# sdk-source="+reg.Host+"/sdks/{platform}:{version}\nFROM scratch\nSDK golang@1.23.4 --flavor=book-worm\n")
	code, _, stderr := sdkfront(t, "lock")
	wantCode(t, code, exitError)
	// The flavor is refused where the line is read, before anything is
	// resolved: the same allow-list as the lock's.
	wantLines(t, stderr, `Dockerfile:3: SDK --flavor="book-worm": character '-' is not allowed in a flavor (allowed: letters, digits, _ and ., not first)`)
	if _, err := os.Stat(dir + "/Dockerfile.sdk.lock"); err == nil {
		t.Error("a lock was written")
	}
}
