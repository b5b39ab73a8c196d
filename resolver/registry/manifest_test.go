package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

func TestPlatformDigests(t *testing.T) {
	reg := testregistry.New(t)
	c := New()
	for _, oci := range []bool{true, false} {
		t.Run(fmt.Sprintf("oci=%v", oci), func(t *testing.T) {
			idx := sdkIndex(t, oci, "linux/amd64", "linux/arm64", "linux/arm/v7")
			reg.Push(t, fmt.Sprintf("sdks/golang:index-%v", oci), idx)
			reg.Push(t, fmt.Sprintf("sdks/golang:image-%v", oci), sdkImage(t, oci, nil))

			got, err := c.PlatformDigests(context.Background(), fmt.Sprintf("%s/sdks/golang:index-%v", reg.Host, oci))
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			want := map[string]string{}
			for _, m := range im.Manifests[:3] {
				want[m.Platform.OS+"/"+m.Platform.Architecture+strings.TrimSuffix("/"+m.Platform.Variant, "/")] = m.Digest.String()
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			d, _ := idx.Digest()
			if got, err := c.PlatformDigests(context.Background(), reg.Host+"/sdks/golang@"+d.String()); err != nil || len(got) != 3 {
				t.Errorf("by digest: %v, %v", got, err)
			}

			got, err = c.PlatformDigests(context.Background(), fmt.Sprintf("%s/sdks/golang:image-%v", reg.Host, oci))
			if err != nil || got != nil {
				t.Errorf("single manifest: %v, %v; want nil, nil", got, err)
			}
		})
	}
}

func TestPlatformDigestsErrors(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	reg.PushManifest(t, "sdks/golang", "old", string(types.DockerManifestSchema1Signed),
		[]byte(`{"schemaVersion":1,"name":"sdks/golang","tag":"old","fsLayers":[],"history":[]}`))

	for _, tc := range []struct {
		ref string
		is  error
		msg string
	}{
		{reg.Host + "/sdks/golang:old", resolver.ErrInvalidImage,
			reg.Host + "/sdks/golang:old is a Docker schema 1 manifest, which sdkfront does not support"},
		{reg.Host + "/sdks/golang:missing", resolver.ErrNotFound, "no such manifest in registry " + reg.Host},
		{reg.Host + "/sdks/nope:x", resolver.ErrRepositoryNotFound, "no such repository"},
	} {
		_, err := New().PlatformDigests(context.Background(), tc.ref)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("PlatformDigests(%s) error %q\nwant %v containing %q", tc.ref, err, tc.is, tc.msg)
		}
	}
}
