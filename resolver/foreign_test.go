package resolver

import (
	"errors"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckForeignURLs(t *testing.T) {
	layer := func(urls ...string) []ocispecs.Descriptor {
		return []ocispecs.Descriptor{{MediaType: ocispecs.MediaTypeImageLayerGzip, Digest: "sha256:aa", URLs: urls}}
	}
	cases := []struct {
		urls    []string
		allowed []string
		ok      bool
	}{
		{nil, nil, true},
		{[]string{"https://cdn.example/l.tgz"}, nil, false},
		{[]string{"https://cdn.example/l.tgz"}, []string{"cdn.example"}, true},
		{[]string{"https://cdn.example:8443/l.tgz"}, []string{"cdn.example"}, true},
		{[]string{"https://cdn.example:8443/l.tgz"}, []string{"cdn.example:443"}, false},
		{[]string{"https://cdn.example/l.tgz", "http://evil.example/x"}, []string{"cdn.example"}, false},
		{[]string{"::not a url"}, []string{"cdn.example"}, false},
		{[]string{"/relative"}, []string{""}, false},
	}
	for _, c := range cases {
		err := CheckForeignURLs("reg/sdks/x@sha256:bb", layer(c.urls...), c.allowed)
		if (err == nil) != c.ok {
			t.Errorf("%v allowed %v: %v", c.urls, c.allowed, err)
		}
		if err != nil && (!errors.Is(err, ErrForeignURLs) || !strings.Contains(err.Error(), "SDK_ALLOW_FOREIGN_URLS") || !strings.HasPrefix(err.Error(), "layer sha256:aa of reg/sdks/x@sha256:bb carries foreign URLs (")) {
			t.Errorf("error %q", err)
		}
	}
}

// Every descriptor of a resolution is checked: the index entries, the
// config and the layers, each named for what it is.
func TestCheckForeignURLsEveryDescriptor(t *testing.T) {
	foreign := []string{"https://cdn.example/x"}
	res := Resolution{
		Repository: "reg/sdks/x", Digest: "sha256:bb",
		Manifests: []ocispecs.Descriptor{
			{MediaType: ocispecs.MediaTypeImageManifest, Digest: "sha256:m1"},
			{MediaType: "application/vnd.docker.distribution.manifest.v2+json", Digest: "sha256:m2"},
		},
		ConfigDescriptor: ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageConfig, Digest: "sha256:c"},
		Layers:           []ocispecs.Descriptor{{MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", Digest: "sha256:l"}},
	}
	if got := len(res.Descriptors()); got != 4 {
		t.Fatalf("%d descriptors, want 4", got)
	}
	for i, want := range []string{"manifest sha256:m1", "manifest sha256:m2", "config sha256:c", "layer sha256:l"} {
		r := res
		r.Manifests = append([]ocispecs.Descriptor(nil), res.Manifests...)
		r.Layers = append([]ocispecs.Descriptor(nil), res.Layers...)
		switch i {
		case 0, 1:
			r.Manifests[i].URLs = foreign
		case 2:
			r.ConfigDescriptor.URLs = foreign
		case 3:
			r.Layers[0].URLs = foreign
		}
		err := CheckForeignURLs(r.Pinned(), r.Descriptors(), nil)
		if !errors.Is(err, ErrForeignURLs) || !strings.HasPrefix(err.Error(), want+" of reg/sdks/x@sha256:bb carries foreign URLs (https://cdn.example/x)") {
			t.Errorf("error %v, want one for the %s", err, want)
		}
		if err := CheckForeignURLs(r.Pinned(), r.Descriptors(), []string{"cdn.example"}); err != nil {
			t.Errorf("%s allowed: %v", want, err)
		}
	}
	// What a registry puts in a URL is quoted safely, and briefly.
	bad := Resolution{Layers: []ocispecs.Descriptor{{Digest: "sha256:l", URLs: []string{"https://x/\x1b[2J" + strings.Repeat("y", 500), "https://2", "https://3", "https://4"}}}}
	err := CheckForeignURLs("img", bad.Descriptors(), nil)
	if msg := err.Error(); strings.Contains(msg, "\x1b") || strings.Count(msg, "y") > 200 || !strings.Contains(msg, "https://x/?[2J") || !strings.Contains(msg, "and 1 more") || !strings.HasPrefix(msg, "blob sha256:l") {
		t.Errorf("error %q", msg)
	}
}
