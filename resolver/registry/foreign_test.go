package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

// Foreign URLs on a config descriptor or an index entry reach the
// resolution, and CheckForeignURLs refuses them as it does a layer's:
// containerd's fetcher follows the urls of any descriptor.
func TestForeignURLsBeyondLayers(t *testing.T) {
	reg := testregistry.New(t)
	img := sdkImage(t, true, nil)
	reg.Push(t, "sdks/golang:bookworm-1.0.0", img)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()

	// An image manifest whose config may be fetched from elsewhere.
	cfgURLs := m.DeepCopy()
	cfgURLs.Config.URLs = []string{"https://cdn.example/config"}
	body, _ := json.Marshal(cfgURLs)
	reg.PushManifest(t, "sdks/golang", "bookworm-1.0.1", string(types.OCIManifestSchema1), body)

	// An index whose entry may be fetched from elsewhere.
	body, _ = json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{{
		MediaType: types.OCIManifestSchema1, Digest: d, Size: mustSize(t, img),
		Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, URLs: []string{"https://cdn.example/manifest"},
	}}})
	reg.PushManifest(t, "sdks/golang", "bookworm-1.0.2", string(types.OCIImageIndex), body)

	r := resolver.NewWithRegistry(remoteImages{}, New().Registry())
	src := resolver.MustParseSource(reg.Host + "/sdks/{platform}:{flavor}-{version}")
	for _, tc := range []struct {
		version, kind, url string
	}{
		{"1.0.0", "", ""},
		{"1.0.1", "config", "https://cdn.example/config"},
		{"1.0.2", "manifest", "https://cdn.example/manifest"},
	} {
		ref, _ := resolver.ParseRef("golang@" + tc.version)
		res, err := r.Resolve(context.Background(), resolver.Request{Ref: ref, Flavor: "bookworm", Source: src, Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.version, err)
		}
		descs := res.Descriptors()
		if !slices.ContainsFunc(descs, func(d ocispecs.Descriptor) bool { return d.Digest == res.ConfigDescriptor.Digest }) || res.ConfigDescriptor.Digest == "" {
			t.Errorf("%s: descriptors %v lack the config", tc.version, descs)
		}
		err = resolver.CheckForeignURLs(res.Pinned(), descs, nil)
		switch {
		case tc.kind == "" && err != nil:
			t.Errorf("%s: %v", tc.version, err)
		case tc.kind != "" && (!errors.Is(err, resolver.ErrForeignURLs) || !strings.HasPrefix(err.Error(), tc.kind+" ") || !strings.Contains(err.Error(), "("+tc.url+")")):
			t.Errorf("%s: error %v, want one for the %s with %s", tc.version, err, tc.kind, tc.url)
		}
		if err := resolver.CheckForeignURLs(res.Pinned(), descs, []string{"cdn.example"}); err != nil {
			t.Errorf("%s, cdn.example allowed: %v", tc.version, err)
		}
	}
}

func mustSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	n, err := img.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
