package resolver

import (
	"encoding/json"
	"fmt"

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

// labelledDefault reads the version a default tag names.
func labelledDefault(ref string, config []byte) (string, error) {
	img, err := parseConfig(ref, config)
	if err != nil {
		return "", err
	}
	for _, l := range defaultVersionLabels {
		if v := img.Config.Labels[l]; v != "" {
			return v, nil
		}
	}
	return "", &ImageError{Ref: ref, Reason: fmt.Sprintf("has neither label %s nor %s, so it does not say which version is the default", defaultVersionLabels[0], defaultVersionLabels[1])}
}
