package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/lock"
)

func TestLockUpdate(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	before := read(t, "Dockerfile.sdk.lock")

	// Newer releases: the lock keeps what it has.
	reg.Push(t, "sdks/golang:bookworm-1.23.12", sdkIndex(t, "go1.23.12", "linux/amd64", "linux/arm64"))
	reg.Push(t, "sdks/nodejs:bookworm-20.12.0", sdkIndex(t, "node20.12.0", "linux/amd64", "linux/arm64"))
	reg.Push(t, "sdks/python:bullseye-3.11.10", sdkImage(t, "python3.11.10", "linux/amd64", nil))
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
	e, _ := after.Lookup(lock.Key{Ref: "golang@1.23", Flavor: "bookworm", Source: reg.Host + "/sdks/{platform}:{flavor}-{version}"})
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

// Platforms are added to a kept entry without re-resolving it, and kept
// when a later lock asks for fewer.
func TestLockPlatforms(t *testing.T) {
	reg := setup(t)
	args := []string{"lock", "--build-arg", "GO_VERSION=1.23"}
	wantCode(t, must(sdkfront(t, append(args, "--platform", "linux/amd64")...)), exitOK)
	if p := platformsOf(t, "golang@1.23"); p != "linux/amd64" {
		t.Fatalf("platforms %s", p)
	}
	reg.Push(t, "sdks/golang:bookworm-1.23.12", sdkIndex(t, "go1.23.12", "linux/amd64", "linux/arm64"))

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
		"Dockerfile:6: SDK golang@1.23: locked to 1.23.4, which cannot be resolved for linux/s390x: "+reg.Host+"/sdks/golang@sha256:",
		"has no image for platform linux/s390x: not found (its index has linux/amd64, linux/arm64); to re-resolve it, run sdkfront lock --update golang@1.23\n",
		"Dockerfile.sdk.lock not written\n")
}

func TestCheck(t *testing.T) {
	reg := setup(t)
	check := lockArgs("--check", "--offline")

	// No lock.
	code, _, stderr := sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock does not exist: run sdkfront lock --platform linux/amd64,linux/arm64 with the same --build-arg flags (GO_VERSION)\n")

	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	good := read(t, "Dockerfile.sdk.lock")
	reg.Close() // --check --offline never needs the registry
	n := reg.Requests()
	wantCode(t, must(sdkfront(t, check...)), exitOK)

	// A line the lock lacks.
	df := read(t, "Dockerfile")
	write(t, "Dockerfile", df+"SDK golang@1.22\n")
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:16: golang@1.22 (bookworm) is not locked\n", "Dockerfile.sdk.lock is out of date: run sdkfront lock --platform linux/amd64,linux/arm64 with the same --build-arg flags (GO_VERSION)\n")

	// A build arg that changes a ref is a missing entry and a stale one.
	write(t, "Dockerfile", df)
	code, _, stderr = sdkfront(t, "lock", "--check", "--offline", "--build-arg", "GO_VERSION=1.22", "--platform", "linux/amd64,linux/arm64")
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
	code, _, stderr = sdkfront(t, "lock", "--check", "--offline", "--build-arg", "GO_VERSION=1.23", "--platform", "linux/amd64,linux/arm64,linux/s390x")
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile:6: golang@1.23 (bookworm) is locked to 1.23.4 but not for linux/s390x\n",
		"Dockerfile:7: nodejs@default (bookworm) is locked to 20.11.1 but not for linux/s390x\n",
		"Dockerfile:14: nodejs@20 (bookworm) is locked to 20.11.1 but not for linux/s390x\n")
	if strings.Contains(stderr, "python") {
		t.Error("python's stage is linux/amd64, yet --check wants it for linux/s390x")
	}

	// The same content, written differently.
	var doc any
	if err := json.Unmarshal([]byte(good), &doc); err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(doc)
	write(t, "Dockerfile.sdk.lock", string(compact))
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitOutOfDate)
	wantLines(t, stderr, "Dockerfile.sdk.lock: not written the way sdkfront lock writes it")

	// Not a lock at all.
	write(t, "Dockerfile.sdk.lock", `{"version": 3, "sdks": []}`)
	code, _, stderr = sdkfront(t, check...)
	wantCode(t, code, exitInvalid)
	wantLines(t, stderr, "Dockerfile.sdk.lock: SDK lockfile version 3 is not supported",
		"Dockerfile.sdk.lock is not a valid lock: fix or delete it, or replace it with: sdkfront lock --update\n")

	write(t, "Dockerfile.sdk.lock", good)
	wantCode(t, must(sdkfront(t, check...)), exitOK)
	if reg.Requests() != n {
		t.Errorf("--check --offline made %d registry requests", reg.Requests()-n)
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
	// A version 1 lock is read, and written back as version 2.
	if got := read(t, "Dockerfile.sdk.lock"); got != "{\n  \"version\": 2,\n  \"sdks\": []\n}\n" {
		t.Errorf("lock %q", got)
	}
}

// --update for fewer platforms than an entry holds re-resolves it for
// them all: the entry keeps the platforms no --platform named.
func TestLockUpdateKeepsPlatforms(t *testing.T) {
	reg := setup(t)
	wantCode(t, must(sdkfront(t, lockArgs()...)), exitOK)
	reg.Push(t, "sdks/golang:bookworm-1.23.12", sdkIndex(t, "go1.23.12", "linux/amd64", "linux/arm64"))

	code, _, stderr := sdkfront(t, "lock", "--update", "golang@1.23", "--build-arg", "GO_VERSION=1.23", "--platform", "linux/amd64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "golang@1.23: 1.23.4 -> 1.23.12\n")
	e, _ := lockFile(t).Lookup(lock.Key{Ref: "golang@1.23", Flavor: "bookworm", Source: reg.Host + "/sdks/{platform}:{flavor}-{version}"})
	if e.Version != "1.23.12" || e.Platforms["linux/amd64"] == "" || e.Platforms["linux/arm64"] == "" || e.Platforms["linux/amd64"] == e.Platforms["linux/arm64"] {
		t.Errorf("updated entry %s, platforms %v", e.Version, e.Platforms)
	}
}

// A line whose base image's flavor the SDK lacked is locked with the
// fallback flavor; once the SDK has the base's flavor, the lock still pins
// the line, as a build and --check read it, until --update re-resolves it.
func TestLockKeepsFallbackEntry(t *testing.T) {
	dir := isolate(t)
	reg := testregistry.New(t)
	seed(t, reg)
	reg.Push(t, "lab/debian:trixie", baseImage(t, "trixie", "linux/amd64"))
	write(t, filepath.Join(dir, "Dockerfile"), strings.ReplaceAll(`# sdk-source=REGISTRY/sdks/{platform}:{flavor}-{version}
FROM REGISTRY/lab/debian:trixie
SDK golang@1.23
`, "REGISTRY", reg.Host))
	wantCode(t, must(sdkfront(t, "lock", "--platform", "linux/amd64")), exitOK)
	before := read(t, "Dockerfile.sdk.lock")
	if v := lockedVersion(lockFile(t), "golang@1.23"); v != "1.23.4" {
		t.Fatalf("golang@1.23 locked to %s, want bookworm's 1.23.4", v)
	}

	reg.Push(t, "sdks/golang:trixie-1.23.9", sdkIndex(t, "go1.23.9-trixie", "linux/amd64"))
	code, _, stderr := sdkfront(t, "lock", "--platform", "linux/amd64")
	wantCode(t, code, exitOK)
	wantLines(t, stderr, "is up to date (1 unchanged)")
	if read(t, "Dockerfile.sdk.lock") != before {
		t.Error("the lock changed without --update")
	}
	wantCode(t, must(sdkfront(t, "lock", "--check", "--platform", "linux/amd64")), exitOK)

	wantCode(t, must(sdkfront(t, "lock", "--update", "--platform", "linux/amd64")), exitOK)
	if e := lockFile(t).SDKs; len(e) != 1 || e[0].Flavor != "trixie" || e[0].Version != "1.23.9" {
		t.Errorf("--update locked %+v, want trixie's 1.23.9", e)
	}
}
