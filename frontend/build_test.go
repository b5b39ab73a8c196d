package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

const sdkDockerfile = `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
FROM busybox
ARG GO_VERSION=1.23
SDK golang@${GO_VERSION}
RUN go version
RUN --mount=type=sdk,ref=nodejs@20,target=/opt/node /opt/node/bin/node --version
RUN --mount=type=sdk,ref=python@3.11.9,unpack=false,target=/sdk ls -l /sdk
`

func sdkStub(df string) (*stubClient, *fakeTags) {
	s := newStub(df, nil)
	s.addSDK("reg.test/sdks/golang:bookworm-1.23.4", 1, nil)
	s.addSDK("reg.test/sdks/golang:bookworm-default", 1, map[string]string{"org.oryx.version": "1.23.4"})
	s.addSDK("reg.test/sdks/nodejs:bookworm-20.18.0", 1, nil)
	s.addSDK("reg.test/sdks/python:bookworm-3.11.9", 1, nil)
	s.addSDK("reg.test/sdks/broken:bookworm-1.0.0", 2, nil)
	tags := &fakeTags{tags: map[string][]string{
		"reg.test/sdks/golang": {"bookworm-1.22.10", "bookworm-1.23.2", "bookworm-1.23.4", "bullseye-1.23.9", "bookworm-default"},
		"reg.test/sdks/nodejs": {"bookworm-18.20.4", "bookworm-20.11.1", "bookworm-20.18.0"},
		"reg.test/sdks/python": {"bookworm-3.11.9"},
		"reg.test/sdks/broken": {"bookworm-1.0.0"},
	}}
	return s, tags
}

type defView struct {
	sources []string         // image identifiers
	unpacks []string         // destinations of copy actions that unpack
	names   []string         // vertex names
	lines   map[string]int32 // vertex name -> first line of its location
	infos   []*pb.SourceInfo // Dockerfile source infos
}

func view(t *testing.T, def *pb.Definition) defView {
	t.Helper()
	v := defView{lines: map[string]int32{}}
	if def == nil {
		t.Fatal("nothing was solved")
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if src := op.GetSource(); src != nil && strings.HasPrefix(src.Identifier, "docker-image://") {
			v.sources = append(v.sources, strings.TrimPrefix(src.Identifier, "docker-image://"))
		}
		if f := op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if cp := a.GetCopy(); cp != nil && cp.AttemptUnpackDockerCompatibility {
					v.unpacks = append(v.unpacks, cp.Dest)
				}
			}
		}
	}
	for dgst, md := range def.Metadata {
		if pg := md.ProgressGroup; pg != nil {
			v.names = append(v.names, pg.Name)
		}
		n := md.Description["llb.customname"]
		if n == "" {
			continue
		}
		v.names = append(v.names, n)
		if def.Source != nil {
			if locs, ok := def.Source.Locations[dgst]; ok && len(locs.Locations) > 0 && len(locs.Locations[0].Ranges) > 0 {
				v.lines[n] = locs.Locations[0].Ranges[0].Start.Line
			}
		}
	}
	if def.Source != nil {
		for _, si := range def.Source.Infos {
			if si.Language == "Dockerfile" {
				v.infos = append(v.infos, si)
			}
		}
	}
	return v
}

func TestSDKBuild(t *testing.T) {
	s, tags := sdkStub(sdkDockerfile)
	res, err := build(context.Background(), s, tags)
	if err != nil {
		t.Fatalf("build: %+v", err)
	}
	v := view(t, s.finalDef())

	for _, repo := range []string{"reg.test/sdks/golang", "reg.test/sdks/nodejs", "reg.test/sdks/python"} {
		found := false
		for _, src := range v.sources {
			if strings.HasPrefix(src, repo+"@sha256:") {
				found = true
			}
		}
		if !found {
			t.Errorf("no digest-pinned source for %s in %v", repo, v.sources)
		}
	}
	// golang unpacks straight into the stage (the SDK instruction's copy,
	// fused); nodejs into a tree of its own for the mount; python not at all.
	slices.Sort(v.unpacks)
	if want := []string{"/", "/opt/golang/1.23.4/"}; !slices.Equal(v.unpacks, want) {
		t.Errorf("unpacking copies to %q, want %q", v.unpacks, want)
	}

	// The user sees their own Dockerfile, on their own lines.
	if len(v.infos) == 0 {
		t.Fatal("no Dockerfile source info in the definition")
	}
	for _, si := range v.infos {
		if string(si.Data) != sdkDockerfile {
			t.Errorf("source info shows the rewritten Dockerfile:\n%s", si.Data)
		}
	}
	wantLines := map[string]int32{
		"RUN go version": 5,
		"RUN --mount=type=sdk,ref=nodejs@20,target=/opt/node /opt/node/bin/node --version": 6,
		"SDK golang@${GO_VERSION}": 4,
	}
	for frag, line := range wantLines {
		found := false
		for n, l := range v.lines {
			if strings.Contains(n, frag) {
				found = true
				if l != line {
					t.Errorf("vertex %q is at line %d, want %d", n, l, line)
				}
			}
		}
		if !found {
			t.Errorf("no vertex named like %q in %q", frag, v.names)
		}
	}
	for _, n := range v.names {
		if strings.Contains(n, "from=sdkfront-") {
			t.Errorf("vertex name shows the rewrite: %q", n)
		}
	}

	// PATH has the SDK first, in the image config too.
	var img ocispecs.Image
	if err := json.Unmarshal(res.Metadata[exptypes.ExporterImageConfigKey], &img); err != nil {
		t.Fatalf("image config: %v", err)
	}
	var path string
	for _, e := range img.Config.Env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			path = p
		}
	}
	if !strings.HasPrefix(path, "/opt/golang/1.23.4/bin:/usr/local/sbin:") {
		t.Errorf("PATH = %q, want the SDK's bin first", path)
	}

	var resolved []resolver.Resolution
	if err := json.Unmarshal(res.Metadata[MetaResolved], &resolved); err != nil {
		t.Fatalf("%s: %v", MetaResolved, err)
	}
	got := map[string]string{}
	for _, r := range resolved {
		got[r.Ref] = r.Version
	}
	want := map[string]string{"golang@1.23": "1.23.4", "nodejs@20": "20.18.0", "python@3.11.9": "3.11.9"}
	for k, ver := range want {
		if got[k] != ver {
			t.Errorf("resolved %s to %q, want %q (all: %v)", k, got[k], ver, got)
		}
	}
	// One solve announces the three resolutions, a vertex each.
	var announced []string
	for _, def := range s.evaluated {
		for _, n := range view(t, def).names {
			if strings.HasPrefix(n, "[sdk] ") && strings.Contains(n, " -> ") {
				announced = append(announced, n)
			}
		}
	}
	if len(s.evaluated) != 1 || len(announced) != 3 {
		t.Errorf("%d solves announced %q, want 1 solve announcing 3", len(s.evaluated), announced)
	}
	if tags.calls["reg.test/sdks/golang"] != 1 || tags.calls["reg.test/sdks/nodejs"] != 1 || tags.calls["reg.test/sdks/python"] != 0 {
		t.Errorf("tag listings = %v, want golang and nodejs once, python never (exact version)", tags.calls)
	}
}

// sourceOf returns the Dockerfile source attached to err, failing if none.
func sourceOf(t *testing.T, err error) *errdefs.Source {
	t.Helper()
	var se *errdefs.SourceError
	if !errors.As(err, &se) || se.Source == nil || se.Info == nil || len(se.Ranges) == 0 {
		t.Fatalf("error has no Dockerfile source: %+v", err)
	}
	return se.Source
}

func TestResolveErrorsPointAtTheLine(t *testing.T) {
	cases := []struct {
		name, line, want string
	}{
		{"no match", "SDK golang@1.99", "nearest"},
		{"unknown platform", "SDK cobol@1", "cobol"},
		{"unknown flavor", "SDK golang@1.23 --flavor=alpine", "bookworm"},
		{"two layers", "SDK broken@1.0.0", "layer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\n\n" + c.line + "\nRUN true\n"
			s, tags := sdkStub(df)
			_, err := build(context.Background(), s, tags)
			if err == nil {
				t.Fatal("build succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			src := sourceOf(t, err)
			if string(src.Info.Data) != df || src.Ranges[0].Start.Line != 4 {
				t.Errorf("error points at line %d of %q, want line 4 of the user's file", src.Ranges[0].Start.Line, src.Info.Data)
			}
			// Reading the Dockerfile, its lockfile and the base image's
			// os-release, and nothing else: no SDK, no RUN.
			for _, def := range s.solved {
				for _, dt := range def.Def {
					var op pb.Op
					if err := op.UnmarshalVT(dt); err != nil {
						t.Fatal(err)
					}
					if op.GetExec() != nil || strings.Contains(op.GetSource().GetIdentifier(), "/sdks/") {
						t.Errorf("a failing build solved %v", &op)
					}
				}
			}
		})
	}
}

// TestBuilderErrorsShowTheUsersLines: an error BuildKit's builder raises
// after the rewrite (which added a line) must point at the user's line.
func TestBuilderErrorsShowTheUsersLines(t *testing.T) {
	df := "FROM busybox\nSDK golang@1.23 --flavor=bookworm\nRUN true\nHEALTHCHECK --interval=bogus CMD true\n"
	s, tags := sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\n" + df)
	_, err := build(context.Background(), s, tags)
	if err == nil {
		t.Fatal("build succeeded")
	}
	src := sourceOf(t, err)
	if !strings.HasPrefix(string(src.Info.Data), "# sdk-source") || strings.Contains(string(src.Info.Data), "--from=sdkfront-") {
		t.Errorf("error shows the rewritten Dockerfile:\n%s", src.Info.Data)
	}
	if l := src.Ranges[0].Start.Line; l != 5 {
		t.Errorf("error at line %d, want 5 (the HEALTHCHECK)", l)
	}
}

// TestPlainDockerfileIsStock: with no SDK lines, sdkfront must produce the
// very same LLB as BuildKit's own Dockerfile frontend.
func TestPlainDockerfileIsStock(t *testing.T) {
	// One stage resolves an image; the other is FROM scratch. With two
	// images resolved at once, BuildKit v0.34.2's own builder races
	// (withResolveCache writes g.CacheError on every call,
	// builder/resolvecache.go:30): TestPlainMultiBaseIsStock covers that
	// case without -race.
	assertStock(t, fmt.Sprintf(plainDockerfile, "scratch"))
}

// TestPlainMultiBaseIsStock is TestPlainDockerfileIsStock with two stages
// FROM images, which BuildKit's builder resolves concurrently.
func TestPlainMultiBaseIsStock(t *testing.T) {
	skipBuildKitRace(t)
	assertStock(t, fmt.Sprintf(plainDockerfile, "busybox"))
}

// plainDockerfile has no SDK line; %s is the base of its second stage.
const plainDockerfile = `ARG BASE=busybox
FROM ${BASE} AS build
ENV A=1
RUN --mount=type=cache,target=/cache echo $A > /out
COPY <<EOF /hello
hello
EOF
FROM %s
COPY --from=build /out /out
RUN --mount=type=secret,id=tok cat /run/secrets/tok || true
`

// assertStock checks that sdkfront hands a Dockerfile without SDK lines to
// BuildKit's builder untouched: the same LLB as the stock frontend's, for
// the default target, another target and a build arg.
func assertStock(t *testing.T, df string) {
	t.Helper()
	for _, opts := range []map[string]string{nil, {"target": "build"}, {"build-arg:BASE": "alpine"}} {
		ours, stock := newStub(df, opts), newStub(df, opts)
		if _, err := Build(context.Background(), ours); err != nil {
			t.Fatalf("sdkfront: %v", err)
		}
		if _, err := builder.Build(context.Background(), stock); err != nil {
			t.Fatalf("stock: %v", err)
		}
		a, b := ours.finalDef(), stock.finalDef()
		if a == nil || b == nil {
			t.Fatal("nothing solved")
		}
		if !a.EqualVT(b) {
			t.Errorf("opts %v: LLB differs from the stock frontend's", opts)
		}
		if len(a.Def) < 3 {
			t.Errorf("suspiciously small definition: %d ops", len(a.Def))
		}
	}
}

// TestMultiPlatformBuild: each target platform gets the SDK for its own
// platform, through the named context keyed by platform.
func TestMultiPlatformBuild(t *testing.T) {
	skipBuildKitRace(t)
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23\nRUN go version\n"
	s, tags := sdkStub(df)
	s.opts["platform"] = "linux/amd64,linux/arm64"
	if _, err := build(context.Background(), s, tags); err != nil {
		t.Fatalf("build: %+v", err)
	}
	arches := map[string]bool{}
	for _, def := range s.solved {
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			if src := op.GetSource(); src != nil && strings.HasPrefix(src.Identifier, "docker-image://reg.test/sdks/golang@") {
				arches[op.Platform.Architecture] = true
			}
		}
	}
	if !arches["amd64"] || !arches["arm64"] || len(arches) != 2 {
		t.Errorf("SDK sources for %v, want amd64 and arm64", arches)
	}
}
