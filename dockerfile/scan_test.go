package dockerfile

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

var (
	amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispecs.Platform{OS: "linux", Architecture: "arm64"}
)

func mustScan(t *testing.T, df string, buildArgs map[string]string) *Scan {
	t.Helper()
	sr, err := scanString(df, buildArgs)
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

func scanString(df string, buildArgs map[string]string) (*Scan, error) {
	f, err := Read([]byte(df))
	if err != nil {
		return nil, err
	}
	return f.Scan(ScanOpts{BuildArgs: buildArgs, Build: amd64, Target: arm64})
}

func TestScanExpandsLikeRun(t *testing.T) {
	df := `ARG GLOBAL=1.20
ARG ONLYGLOBAL=9
FROM busybox AS a
ARG GLOBAL
ARG LOCAL=1.21
ENV FROMENV=1.22
SDK golang@${GLOBAL}
SDK golang@${LOCAL}
SDK golang@${FROMENV}
SDK golang@${ONLYGLOBAL:-0.1}
ARG TARGETARCH
SDK golang@1 --flavor=${TARGETARCH}
FROM a AS b
SDK golang@${FROMENV}
SDK golang@${LOCAL:-0.2}
`
	cases := []struct {
		args map[string]string
		want []string
	}{
		// A stage built FROM another inherits its ARGs' values too, as
		// BuildKit's converter does (TestScanExpandsLikeBuildKit).
		{nil, []string{"golang@1.20", "golang@1.21", "golang@1.22", "golang@0.1", "golang@1/arm64", "golang@1.22", "golang@1.21"}},
		{map[string]string{"GLOBAL": "2.0", "LOCAL": "2.1", "FROMENV": "ignored"},
			[]string{"golang@2.0", "golang@2.1", "golang@1.22", "golang@0.1", "golang@1/arm64", "golang@1.22", "golang@2.1"}},
	}
	for _, c := range cases {
		sr := mustScan(t, df, c.args)
		var got []string
		for _, u := range sr.Uses {
			if u.Flavor != "" {
				got = append(got, u.RefText+"/"+u.Flavor)
			} else {
				got = append(got, u.RefText)
			}
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("args %v:\n got  %v\n want %v", c.args, got, c.want)
		}
	}
}

func TestScanStagePlatform(t *testing.T) {
	df := `FROM --platform=$BUILDPLATFORM busybox AS build
SDK golang@1.23
FROM build AS child
SDK golang@1.23
FROM busybox
SDK golang@1.23
`
	sr := mustScan(t, df, nil)
	want := []ocispecs.Platform{amd64, amd64, arm64}
	for i, u := range sr.Uses {
		p, err := sr.StagePlatform(u.Stage)
		if err != nil {
			t.Fatal(err)
		}
		if p.Architecture != want[i].Architecture {
			t.Errorf("use %d (line %d): platform %v, want %v", i, u.Line(), p, want[i])
		}
	}
}

// TestScanErrorsPointAtTheLine checks that every malformed directive fails
// with a message that says what is wrong and a location on the right line.
func TestScanErrorsPointAtTheLine(t *testing.T) {
	cases := []struct {
		name, df, want string
		line           int
	}{
		{"sdk before from", "SDK golang@1\nFROM busybox\n", "must follow a FROM", 1},
		{"no ref", "FROM busybox\nSDK\n", "exactly one reference", 2},
		{"two refs", "FROM busybox\nSDK golang python\n", "exactly one reference", 2},
		{"bad flag", "FROM busybox\nSDK golang --into=/x\n", `unknown SDK flag "--into"`, 2},
		{"relative to", "FROM busybox\nSDK golang --to=opt\n", "absolute path", 2},
		{"bad ref", "FROM busybox\n\nSDK Go!@1\n", "invalid SDK reference", 3},
		{"undeclared arg", "ARG V=1\nFROM busybox\nSDK golang@${V}\n", "empty version", 3},
		{"mount without target", "FROM busybox\nRUN --mount=type=sdk,ref=golang true\n", "needs target=", 2},
		{"mount without ref", "FROM busybox\nRUN --mount=type=sdk,target=/x true\n", "needs ref=", 2},
		{"mount rw", "FROM busybox\nRUN --mount=type=sdk,ref=golang,target=/x,rw true\n", "read-only", 2},
		{"mount unknown option", "FROM busybox\nRUN --mount=type=sdk,ref=golang,target=/x,size=1 true\n", `unknown sdk mount option "size"`, 2},
		{"mount bad unpack", "FROM busybox\nRUN --mount=type=sdk,ref=golang,target=/x,unpack=maybe true\n", "not a boolean", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := scanString(c.df, nil)
			if err == nil {
				t.Fatalf("no error for %q", c.df)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			var le *parser.LocationError
			if !errors.As(err, &le) || len(le.Locations) == 0 || le.Locations[0][0].Start.Line != c.line {
				t.Errorf("error %q is not located at line %d: %+v", err, c.line, le)
			}
		})
	}
}
