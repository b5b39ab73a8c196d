package ociimage

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec is what a single-platform image's config says besides its layers.
// The same Spec and layers always give the same digest.
type Spec struct {
	Platform v1.Platform
	// Created stamps the config and each layer's history entry; the zero
	// time leaves them unstamped (test fixtures).
	Created time.Time
	// CreatedBy names the tool that packed the layers in their history
	// entries; "" leaves the entries empty, as lab/bench's image has them.
	CreatedBy string
	Config    v1.Config
}

// NewImage is the house's usual image: stamped Epoch, each layer's history
// created by createdBy (the tool that packs it).
func NewImage(plat v1.Platform, createdBy string, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	return Spec{Platform: plat, Created: Epoch, CreatedBy: createdBy, Config: cfg}.Image(layers...)
}

// Image builds an image of layers (bottom first) with OCI media types. A
// layer keeps its own media type, and a WithURLs layer its URLs.
func (s Spec) Image(layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if !s.Created.IsZero() {
		cf.Created = v1.Time{Time: s.Created}
	}
	cf.OS = s.Platform.OS
	cf.Architecture = s.Platform.Architecture
	cf.Variant = s.Platform.Variant
	cf.Config = s.Config
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	var history v1.History
	if s.CreatedBy != "" {
		history = v1.History{Created: v1.Time{Time: s.Created}, CreatedBy: s.CreatedBy}
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		add := mutate.Addendum{Layer: l, History: history}
		if f, ok := l.(foreign); ok {
			add.Layer, add.URLs = f.Layer, f.urls
		}
		adds = append(adds, add)
	}
	return mutate.Append(img, adds...)
}

// foreign is a layer whose descriptor names URLs to fetch it from.
type foreign struct {
	v1.Layer
	urls []string
}

// WithURLs is l, its descriptor in an image's manifest naming urls (a
// foreign layer, which the resolver refuses).
func WithURLs(l v1.Layer, urls ...string) v1.Layer { return foreign{l, urls} }

// Index is an OCI image index of images, each under the platform its
// config names.
func Index(images ...v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: cf.Platform()}})
	}
	return idx, nil
}
