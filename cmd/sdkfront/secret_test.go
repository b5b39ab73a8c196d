package main

import (
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/lock"
)

// A build arg's value may be a secret (NPM_TOKEN): no message names it,
// whether the arg was K=V or K from the environment; advice names the
// build args instead. Each path that advises a command runs here.
func TestAdviceNeverRepeatsBuildArgValues(t *testing.T) {
	const secret = "s3cr3t-npm-4f1b2c9d"
	reg := setup(t)
	t.Setenv("ENV_TOKEN", secret+"-from-env")
	args := []string{"lock", "--build-arg", "GO_VERSION=1.23", "--build-arg=NPM_TOKEN=" + secret,
		"--build-arg", "ENV_TOKEN", "--build-arg", "NPM_TOKEN=" + secret, "--platform", "linux/amd64,linux/arm64"}
	again := "sdkfront lock --platform linux/amd64,linux/arm64 with the same --build-arg flags (GO_VERSION, NPM_TOKEN, ENV_TOKEN)"
	run := func(want int, extra ...string) string {
		t.Helper()
		code, stdout, stderr := sdkfront(t, append(append([]string(nil), args...), extra...)...)
		wantCode(t, code, want)
		if out := stdout + stderr; strings.Contains(out, secret) {
			t.Errorf("sdkfront %s printed a build arg's value:\n%s", strings.Join(extra, " "), out)
		}
		return stderr
	}

	// No lock.
	wantLines(t, run(exitOutOfDate, "--check"), "Dockerfile.sdk.lock does not exist: run "+again+"\n")

	// Locking prints progress.
	wantLines(t, run(exitOK), "wrote Dockerfile.sdk.lock")
	good := read(t, "Dockerfile.sdk.lock")

	// A line the lock lacks.
	df := read(t, "Dockerfile")
	write(t, "Dockerfile", df+"SDK golang@1.22\n")
	wantLines(t, run(exitOutOfDate, "--check"),
		"Dockerfile:16: golang@1.22 (bookworm) is not locked\n",
		"Dockerfile.sdk.lock is out of date: run "+again+"\n")
	write(t, "Dockerfile", df)

	// An invalid entry, checked and locked.
	tamper(t, good, func(e *lock.Entry) { e.Tag = "bookworm-1.22.10" })
	wantLines(t, run(exitInvalid, "--check"),
		"Dockerfile.sdk.lock is not a valid lock: run "+again+", which replaces its invalid entries\n")
	write(t, "Dockerfile.sdk.lock", good)

	// A platform the locked image lacks.
	wantLines(t, run(exitError, "--platform", "linux/s390x"), "; to re-resolve it, run sdkfront lock --update golang@1.23\n")

	// A base image whose flavor cannot be read.
	write(t, "flavor.Dockerfile", "# sdk-source="+reg.Host+"/sdks/{platform}:{flavor}-{version}\nFROM "+reg.Host+"/lab/missing:1\nSDK golang@1.23\n")
	wantLines(t, run(exitError, "-f", "flavor.Dockerfile"),
		"flavor.Dockerfile:3: cannot read the flavor of the base image "+reg.Host+"/lab/missing:1 for linux/amd64: ",
		"; name the flavor (--flavor=, # sdk-flavor= or --build-arg SDK_FLAVOR=) to lock without reading it\n")

	// A build arg without a name is a usage error that does not quote it.
	wantLines(t, run(exitUsage, "--build-arg", "="+secret),
		"sdkfront lock: --build-arg: want K=V or K; a value without a name before = is not a build arg\n")
}

// again is the command line made of the parsed flags, each name once and
// no value; a word the shell would read is quoted.
func TestAgain(t *testing.T) {
	t.Setenv("FROM_ENV", "s3cr3t")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "sdkfront lock"},
		{[]string{"--check", "--platform", "arm64", "--platform=linux/amd64,linux/arm64"}, "sdkfront lock --platform linux/arm64,linux/amd64"},
		{[]string{"--file", "my app.Dockerfile", "--context", "src", "--build-context", "b=it's", "--build-context", "a=x", "--check"},
			`sdkfront lock -f 'my app.Dockerfile' --context src --build-context a=x --build-context 'b=it'\''s'`},
		{[]string{"--build-arg", "B=s3cr3t", "--build-arg", "FROM_ENV", "--build-arg", "A=s3cr3t", "--build-arg", "B=s3cr3t", "--build-arg", "UNSET_12345"},
			"sdkfront lock with the same --build-arg flags (B, FROM_ENV, A, UNSET_12345)"},
		{[]string{"--update", "--", "golang", "--weird"}, "sdkfront lock --update -- golang --weird"},
	} {
		o, err := parseLockFlags(tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := (&locker{o: o}).again(); got != tc.want {
			t.Errorf("%q: again is %q, want %q", tc.args, got, tc.want)
		}
	}
}
