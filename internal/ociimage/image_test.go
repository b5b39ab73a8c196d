package ociimage

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestImageAndIndexDigestsAreStable pins the digests of a seed-like image
// per architecture and their index, as lab/seed built them before Spec and
// Index: the lab's lock files and e2e expectations name such digests.
func TestImageAndIndexDigestsAreStable(t *testing.T) {
	b, err := NewBlob(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"amd64": "sha256:36aa855c49eb632a0379553b3f76979951edf78dc3739210cdaf5323d7bd721e",
		"arm64": "sha256:48715a8c5963cedd8de7bc645a354a4d1aabd07487bff89a80c079f9fcff6a55",
	}
	var imgs []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := NewImage(v1.Platform{OS: "linux", Architecture: arch}, "ociimage test", v1.Config{Labels: map[string]string{"k": "v"}}, b.Layer())
		if err != nil {
			t.Fatal(err)
		}
		if d, err := img.Digest(); err != nil || d.String() != want[arch] {
			t.Errorf("%s image: digest %s (%v), want %s", arch, d, err, want[arch])
		}
		imgs = append(imgs, img)
	}
	idx, err := Index(imgs...)
	if err != nil {
		t.Fatal(err)
	}
	const wantIdx = "sha256:38dc4811dce05173db0109c69aef2990bd4e672722722a31ca14dd901be477c6"
	if d, err := idx.Digest(); err != nil || d.String() != wantIdx {
		t.Errorf("index: digest %s (%v), want %s", d, err, wantIdx)
	}
}

// TestSpecHistory: a Spec without CreatedBy gives each layer an empty
// history entry and, without Created, an unstamped config (lab/bench's and
// the test fixtures' images); with them, stamped entries.
func TestSpecHistory(t *testing.T) {
	b, err := NewBlob(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec      Spec
		createdBy string
	}{
		{Spec{}, ""},
		{Spec{Created: Epoch}, ""},
		{Spec{Created: Epoch, CreatedBy: "packer"}, "packer"},
	} {
		img, err := c.spec.Image(b.Layer(), WithURLs(b.Layer(), "https://example.com/b"))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !cf.Created.Time.Equal(c.spec.Created) {
			t.Errorf("%+v: created %s", c.spec, cf.Created)
		}
		if len(cf.History) != 2 {
			t.Fatalf("%+v: history %+v, want 2 entries", c.spec, cf.History)
		}
		for _, h := range cf.History {
			want := v1.History{}
			if c.createdBy != "" {
				want = v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: c.createdBy}
			}
			if h != want {
				t.Errorf("%+v: history entry %+v, want %+v", c.spec, h, want)
			}
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Layers[0].URLs) != 0 || len(m.Layers[1].URLs) != 1 || m.Layers[1].URLs[0] != "https://example.com/b" {
			t.Errorf("%+v: layer URLs %v, %v; want none, then the foreign one", c.spec, m.Layers[0].URLs, m.Layers[1].URLs)
		}
	}
}
