package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestSBOMNamesSDKs, through buildkitd: an image built with --attest
// type=sbom carries, beside the scanner's SPDX document, sdkfront's, which
// names the SDK of its SDK line (version, package URL by digest with its
// repository and tag, the Dockerfile line) and not the SDK a RUN only
// mounted; both documents are about the image.
func TestSBOMNamesSDKs(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\n" +
		"RUN --mount=type=sdk,ref=python@3.11.9,target=/py ls /py > /dev/null\n")
	dir := project(t, df, map[string]string{})
	repo := fmt.Sprintf("%s/e2e/sbom-%d", lab.registry, time.Now().UnixNano())
	buildctl(t, dir, "--opt", "attest:sbom=generator="+lab.registry+"/sdkfront-sbom:dev",
		"--output", "type=image,name="+repo+":latest,push=true,oci-mediatypes=true").mustSucceed(t)

	ref, err := name.ParseReference(repo+":latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opt := remote.WithAuth(authn.Anonymous)
	idx, err := remote.Index(ref, opt)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var image, att string
	for _, m := range im.Manifests {
		switch {
		case m.Annotations["vnd.docker.reference.type"] == "attestation-manifest":
			att = m.Digest.String()
		case m.Platform != nil && m.Platform.Architecture != "unknown":
			image = m.Digest.Hex
		}
	}
	if image == "" || att == "" {
		t.Fatalf("index %s: image %q, attestation manifest %q", ref, image, att)
	}
	a, err := remote.Image(ref.Context().Digest(att), opt)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := a.Layers()
	if err != nil {
		t.Fatal(err)
	}
	type pkg struct {
		Name         string `json:"name"`
		VersionInfo  string `json:"versionInfo"`
		Comment      string `json:"comment"`
		ExternalRefs []struct {
			ReferenceLocator string `json:"referenceLocator"`
		} `json:"externalRefs"`
	}
	var ours []pkg
	var docs []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var st intotoStatement
		err = json.NewDecoder(rc).Decode(&st)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.PredicateType != "https://spdx.dev/Document" {
			continue
		}
		for _, s := range st.Subject {
			if s.Digest["sha256"] != image {
				t.Errorf("an SPDX statement is about %v, want the image %s", s.Digest, image)
			}
		}
		var doc struct {
			Name     string `json:"name"`
			Packages []pkg  `json:"packages"`
		}
		if err := json.Unmarshal(st.Predicate, &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc.Name)
		if doc.Name == "sdkfront SDKs" {
			ours = doc.Packages
		}
	}
	if len(docs) != 2 {
		t.Errorf("SPDX documents %q: want the scanner's and sdkfront's", docs)
	}
	if len(ours) != 1 {
		t.Fatalf("sdkfront's SBOM packages: %+v, want golang alone (python was only mounted)", ours)
	}
	p := ours[0]
	purl := ""
	if len(p.ExternalRefs) == 1 {
		purl = p.ExternalRefs[0].ReferenceLocator
	}
	if p.Name != "golang" || p.VersionInfo != "1.23.4" || !strings.HasPrefix(p.Comment, "SDK golang@1.23 (Dockerfile line 4), image "+lab.registry+"/sdks/golang@sha256:") ||
		!strings.HasPrefix(purl, "pkg:oci/golang@sha256%3A") || !strings.Contains(purl, "tag=bookworm-1.23.4") ||
		!strings.Contains(purl, "repository_url="+strings.ReplaceAll(strings.ReplaceAll(lab.registry, ":", "%3A"), "/", "%2F")+"%2Fsdks%2Fgolang") {
		t.Errorf("sdkfront's SBOM package: %+v", p)
	}
}
