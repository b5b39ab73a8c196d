package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestAdmits(t *testing.T) {
	for _, tc := range []struct {
		constraint string
		yes, no    []string
	}{
		{"", []string{"1.23.4", "20.11.1", "1.2.3.4", "8.0.404_8.0.11", "1.24rc1"}, []string{"latest", "bookworm", "1.2.3\""}},
		{"latest", []string{"1.23.4", "3.12"}, []string{"3.13.0rc2", "1.2.3.4", "x"}},
		{"1.23.4", []string{"1.23.4", "v1.23.4"}, []string{"1.23.5", "1.23", "1.23.4\n"}},
		{"8.0.404", []string{"8.0.404_8.0.11", "8.0.404"}, []string{"8.0.405_8.0.11"}},
		{"1.2.3.4", []string{"1.2.3.4"}, []string{"1.2.3.5", "1.2.3"}},
		{"1.23", []string{"1.23.0", "1.23.12", "1.23"}, []string{"1.24.0", "1.22.9", "1.23.1-rc1"}},
		{"~3.11", []string{"3.11.9"}, []string{"3.12.1"}},
		{">=20 <22", []string{"20.11.1", "21.0.0"}, []string{"22.0.0", "18.20.0"}},
	} {
		c, err := ParseConstraint(tc.constraint)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range tc.yes {
			if !c.Admits(v) {
				t.Errorf("%q does not admit %q", tc.constraint, v)
			}
		}
		for _, v := range tc.no {
			if c.Admits(v) {
				t.Errorf("%q admits %q", tc.constraint, v)
			}
		}
	}
}

func TestSourceIn(t *testing.T) {
	s := MustParseSource("127.0.0.1:5000/sdks/{platform}:{version}-{flavor}")
	for _, tc := range []struct {
		ref    string
		s      Source
		repo   string
		tag    string
		defTag string
	}{
		{"golang@1.23", s, "127.0.0.1:5000/sdks/golang", "1.23.4-bookworm", "default-bookworm"},
		{"golang@1.23", Source{}, "mcr.microsoft.com/oryx/golang-sdk", "bookworm-1.23.4", "bookworm-default"},
		{"reg.test/x/python-sdk@3", s, "reg.test/x/python-sdk", "bookworm-1.23.4", "bookworm-default"},
	} {
		r, err := ParseRef(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		src := r.SourceIn(tc.s)
		if got := src.Repository(r.Platform); got != tc.repo {
			t.Errorf("%s: repository %q, want %q", tc.ref, got, tc.repo)
		}
		if got := src.Tag("bookworm", "1.23.4"); got != tc.tag {
			t.Errorf("%s: tag %q, want %q", tc.ref, got, tc.tag)
		}
		if got := src.DefaultTag("bookworm"); got != tc.defTag {
			t.Errorf("%s: default tag %q, want %q", tc.ref, got, tc.defTag)
		}
	}
}

// pinnedManifests serves one image by its pinned reference.
type pinnedManifests struct {
	ref    string
	layers []ocispecs.Descriptor
	config []byte
	calls  int
}

func (p *pinnedManifests) ResolveManifest(_ context.Context, ref string, _ ocispecs.Platform, config bool) (Manifest, error) {
	p.calls++
	if ref != p.ref {
		return Manifest{}, errors.Join(ErrNotFound, errors.New(ref))
	}
	m := Manifest{Digest: "sha256:1d", Image: "sha256:1m", Layers: p.layers}
	if config {
		m.Config = p.config
	}
	return m, nil
}

func TestReadPinned(t *testing.T) {
	const ref = "reg.test/sdks/golang@sha256:1d"
	amd64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	big := ocispecs.Descriptor{Digest: "sha256:b", Size: 1 << 20}
	small := ocispecs.Descriptor{Digest: "sha256:s", Size: 100}
	cfg := func(ids ...digest.Digest) []byte {
		dt, _ := json.Marshal(ocispecs.Image{RootFS: ocispecs.RootFS{Type: "layers", DiffIDs: ids}})
		return dt
	}
	for _, tc := range []struct {
		name    string
		m       *pinnedManifests
		ref     string
		wantErr string
		calls   int
	}{
		{"one layer", &pinnedManifests{ref: ref, layers: []ocispecs.Descriptor{big}}, ref, "", 1},
		{"two layers", &pinnedManifests{ref: ref, layers: []ocispecs.Descriptor{big, big}}, ref, "has 2 layers", 1},
		{"small layer", &pinnedManifests{ref: ref, layers: []ocispecs.Descriptor{small}, config: cfg("sha256:abc")}, ref, "", 2},
		{"empty layer", &pinnedManifests{ref: ref, layers: []ocispecs.Descriptor{small}, config: cfg(emptyLayerDiffID)}, ref, "has an empty layer", 2},
		{"missing", &pinnedManifests{ref: ref}, "reg.test/sdks/golang@sha256:2d", "not found", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewWithRegistry(nil, Registry{Manifests: tc.m}).ReadPinned(context.Background(), tc.ref, amd64)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			case tc.wantErr == "" && (m.Image != "sha256:1m" || len(m.Layers) != 1):
				t.Errorf("manifest %+v", m)
			}
			if tc.m.calls != tc.calls {
				t.Errorf("%d reads, want %d", tc.m.calls, tc.calls)
			}
		})
	}
}

// ReadPinnedConfig reads the config with the manifest, in one read, and
// LabelledVersion names the version it labels, by the default tag's labels.
func TestReadPinnedConfig(t *testing.T) {
	const ref = "reg.test/sdks/golang@sha256:1d"
	amd64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	big := ocispecs.Descriptor{Digest: "sha256:b", Size: 1 << 20}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   VersionLabel
	}{
		{"org.oryx.version", map[string]string{"org.oryx.version": "1.22.10"}, VersionLabel{"org.oryx.version", "1.22.10"}},
		{"org.oryx.sdk.version", map[string]string{"org.oryx.sdk.version": "3.12.7"}, VersionLabel{"org.oryx.sdk.version", "3.12.7"}},
		{"both: as the default tag's", map[string]string{"org.oryx.sdk.version": "3.12.7", "org.oryx.version": "3.12.8"}, VersionLabel{"org.oryx.version", "3.12.8"}},
		{"none", map[string]string{"org.opencontainers.image.version": "1.22.10"}, VersionLabel{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dt, _ := json.Marshal(ocispecs.Image{Config: ocispecs.ImageConfig{Labels: tc.labels},
				RootFS: ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{"sha256:abc"}}})
			mr := &pinnedManifests{ref: ref, layers: []ocispecs.Descriptor{big}, config: dt}
			r := NewWithRegistry(nil, Registry{Manifests: mr})
			m, err := r.ReadPinnedConfig(context.Background(), ref, amd64)
			if err != nil {
				t.Fatal(err)
			}
			if mr.calls != 1 || string(m.Config) != string(dt) {
				t.Fatalf("%d reads, config %q: want the config in one read", mr.calls, m.Config)
			}
			got, err := LabelledVersion(ref, m.Config)
			if err != nil || got != tc.want {
				t.Errorf("LabelledVersion = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := LabelledVersion(ref, []byte("{")); err == nil || !strings.Contains(err.Error(), ref+" has an unreadable image config") {
		t.Errorf("LabelledVersion of a bad config: %v", err)
	}
}

func TestVersionLabelNames(t *testing.T) {
	for _, tc := range []struct {
		label   string
		yes, no []string
	}{
		{"1.23.4", []string{"1.23.4", "v1.23.4"}, []string{"1.22.10", "1.23.5", "1.23", "1.23.4-rc1"}},
		{"8.0.404", []string{"8.0.404_8.0.11", "8.0.404"}, []string{"8.0.405_8.0.11"}},
		{"8.0.404_8.0.10", []string{"8.0.404_8.0.10", "v8.0.404_8.0.10", "8.0.404"}, []string{"8.0.404_8.0.11", "8.0.405_8.0.10", "8.0.404_8.0.1"}},
		{"3.13.0rc2", []string{"3.13.0rc2", "3.13.0-rc2"}, []string{"3.13.0"}},
		{"1.23", []string{"1.23"}, []string{"1.23.0", "1.23.4"}},
		{"1.2.3.4", []string{"1.2.3.4"}, []string{"1.2.3"}},
	} {
		l := VersionLabel{Label: "org.oryx.version", Version: tc.label}
		for _, v := range tc.yes {
			if !l.Names(v) {
				t.Errorf("label %q does not name %q", tc.label, v)
			}
		}
		for _, v := range tc.no {
			if l.Names(v) {
				t.Errorf("label %q names %q", tc.label, v)
			}
		}
	}
}
