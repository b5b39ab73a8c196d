package registry

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The registry these tests push to is internal/testregistry's. sdkImage
// and sdkIndex stay here: random content with Docker or OCI media types, as
// the client must read both, where testregistry builds reproducible OCI
// images only.

// sdkImage returns a one-layer image with the given labels, with OCI media
// types if oci is set and Docker ones otherwise.
func sdkImage(t *testing.T, oci bool, labels map[string]string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Labels = labels
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	if oci {
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	return img
}

// sdkIndex returns an index of one SDK image per platform ("linux/amd64"),
// plus an attestation manifest as BuildKit adds.
func sdkIndex(t *testing.T, oci bool, platforms ...string) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	mt := types.DockerManifestList
	if oci {
		mt = types.OCIImageIndex
	}
	idx = mutate.IndexMediaType(idx, mt)
	for _, p := range append(platforms, "unknown/unknown") {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        sdkImage(t, oci, nil),
			Descriptor: v1.Descriptor{Platform: plat},
		})
	}
	return idx
}
