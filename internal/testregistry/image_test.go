package testregistry

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImageDigestsAreStable pins the digests of fixed images and an index,
// as built before the builder moved to internal/ociimage: tests elsewhere
// compare digests of such fixtures, and a changed byte would change them.
func TestImageDigestsAreStable(t *testing.T) {
	layer := GzipLayer(t,
		Entry{Name: "bin/"},
		Entry{Name: "bin/tool", Body: "#!/bin/sh\n"},
		Entry{Name: "bin/alias", Link: "tool"},
		Entry{Name: "bin/again", Hard: "bin/tool"},
	)
	arm := NewImage(t, "linux/arm64/v8", map[string]string{"org.oryx.version": "1.0.0"},
		layer, WithURLs(Blob([]byte("foreign")), "https://example.com/blob"))
	bare := NewImage(t, "", nil, layer)
	amd := NewImage(t, "linux/amd64", nil, layer)
	idx := NewIndex(t, arm, amd)
	for _, c := range []struct {
		name string
		got  interface{ Digest() (v1.Hash, error) }
		want string
	}{
		{"arm64 image", arm, "sha256:30be1a08c0451c062de4df18e7d09f9af833eeb11f9723cbe7ec10f41acc811f"},
		{"bare image", bare, "sha256:54592196617ba48f81c4ff74810dd67770c9c044627083423afa2126ada7ce20"},
		{"amd64 image", amd, "sha256:d816d39f08ce7e90421c4e4e418e0f689fe288833efd69f3173d604dc23f2ff4"},
		{"index", idx, "sha256:c2124073d4441b92beabe7d877e65a105011a2d1c6f53577438ba541cd72a425"},
	} {
		d, err := c.got.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != c.want {
			t.Errorf("%s: digest %s, want %s", c.name, d, c.want)
		}
	}
}
