package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

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
		{[]string{"lock", "--offline"}, exitUsage, "--offline goes with --check"},
		{[]string{"lock", "--help"}, exitOK, "--check --offline reads no registry: it compares the\nlock with the Dockerfile only, and cannot see a swapped digest or a moved tag.\n"},
		{[]string{"lock", "--platform", "linux/amd64,bogus/x/y/z"}, exitUsage, `invalid value "linux/amd64,bogus/x/y/z" for flag -platform`},
		{[]string{"lock", "--build-arg", "=x"}, exitUsage, "sdkfront lock: --build-arg: want K=V or K; a value without a name before = is not a build arg\n"},
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
