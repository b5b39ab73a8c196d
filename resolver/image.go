package resolver

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// emptyLayerDiffID is the diff ID of an empty tar archive (1024 zero bytes),
// the layer of an image whose only COPY added nothing.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// Labels that name the default version on a "<flavor>-default" tag, in order
// of preference.
var defaultVersionLabels = []string{"org.oryx.version", "org.oryx.sdk.version"}

func parseConfig(ref string, config []byte) (ocispecs.Image, error) {
	var img ocispecs.Image
	if err := json.Unmarshal(config, &img); err != nil {
		return img, &ImageError{Ref: ref, Reason: fmt.Sprintf("has an unreadable image config: %v", err)}
	}
	return img, nil
}

// checkImage verifies that an image is an SDK image: the LLB copies the one
// layer's content straight into the build, so it needs exactly one layer
// with something in it.
func checkImage(ref string, config []byte) error {
	img, err := parseConfig(ref, config)
	if err != nil {
		return err
	}
	switch ids := img.RootFS.DiffIDs; {
	case len(ids) != 1:
		return &ImageError{Ref: ref, Reason: fmt.Sprintf("has %d layers; an SDK image must have exactly one layer (FROM scratch + COPY sdk.tar.gz /)", len(ids))}
	case ids[0] == emptyLayerDiffID:
		return &ImageError{Ref: ref, Reason: "has an empty layer; an SDK image must have exactly one layer holding the SDK (FROM scratch + COPY sdk.tar.gz /)"}
	}
	return nil
}

// minLayerSize is the size under which a compressed layer may be an empty
// tar; the config's diff ID then tells.
const minLayerSize = 1024

// checkLayers is checkImage from the manifest's layers, for a layer too
// large to be empty.
func checkLayers(ref string, layers []ocispecs.Descriptor) error {
	if len(layers) != 1 {
		return &ImageError{Ref: ref, Reason: fmt.Sprintf("has %d layers; an SDK image must have exactly one layer (FROM scratch + COPY sdk.tar.gz /)", len(layers))}
	}
	return nil
}

// VersionLabel is the version an SDK image's config names, and the label
// that names it.
type VersionLabel struct {
	Label   string // "org.oryx.version", "org.oryx.sdk.version"; "" if the image has neither
	Version string
}

// LabelledVersion reads the version an image's config names, by the labels
// a default tag names its version by, in the same order; the zero
// VersionLabel if it has neither.
func LabelledVersion(ref string, config []byte) (VersionLabel, error) {
	img, err := parseConfig(ref, config)
	if err != nil {
		return VersionLabel{}, err
	}
	for _, l := range defaultVersionLabels {
		if v := img.Config.Labels[l]; v != "" {
			return VersionLabel{Label: l, Version: v}, nil
		}
	}
	return VersionLabel{}, nil
}

// Names reports whether the label names version: the same text, or the
// same release spelled as tags spell it ("8.0.404" for "8.0.404_8.0.11").
// A label naming a line ("1.23") names no release of it. Where both carry
// a part after "_" (dotnet's runtime, "8.0.404_8.0.11"), it must be the
// same: "8.0.404_8.0.10" is another image of the same SDK band.
func (l VersionLabel) Names(version string) bool {
	if l.Version == version {
		return true
	}
	if strings.Contains(l.Version, "_") && strings.Contains(version, "_") {
		return strings.TrimPrefix(l.Version, "v") == strings.TrimPrefix(version, "v")
	}
	c, err := ParseConstraint(l.Version)
	if err != nil || c.Kind != Exact {
		return false
	}
	v, err := ParseVersion(version)
	return err == nil && c.Matches(v)
}

// labelledDefault reads the version a default tag names.
func labelledDefault(ref string, config []byte) (string, error) {
	l, err := LabelledVersion(ref, config)
	if err != nil || l.Label != "" {
		return l.Version, err
	}
	return "", &ImageError{Ref: ref, Reason: fmt.Sprintf("has neither label %s nor %s, so it does not say which version is the default", defaultVersionLabels[0], defaultVersionLabels[1])}
}
