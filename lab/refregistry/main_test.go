package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestReferrers pushes an image and two artifacts that refer to it, as
// notation and cosign push them (the empty config, artifactType on the
// manifest), and checks the listing names each artifact's own artifactType,
// filters by it, and that the push was answered with OCI-Subject.
func TestReferrers(t *testing.T) {
	srv := httptest.NewServer(newHandler())
	defer srv.Close()

	empty := blob(t, srv, "app", []byte("{}"))
	image := put(t, srv, "app", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": empty, "layers": []any{},
	}, "")
	subject := map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": 1}
	notary := put(t, srv, "app", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": "application/vnd.cncf.notary.signature",
		"config":       empty, "layers": []any{empty}, "subject": subject,
	}, image)
	bundle := put(t, srv, "app", map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
		"config":       empty, "layers": []any{empty}, "subject": subject,
	}, image)

	got := list(t, srv, "/v2/app/referrers/"+image, "")
	if len(got) != 2 || got[notary] != "application/vnd.cncf.notary.signature" ||
		got[bundle] != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("referrers of %s: %v; want %s (notary) and %s (sigstore bundle)", image, got, notary, bundle)
	}
	got = list(t, srv, "/v2/app/referrers/"+image+"?artifactType=application/vnd.cncf.notary.signature", "artifactType")
	if len(got) != 1 || got[notary] == "" {
		t.Errorf("referrers filtered to notary signatures: %v; want only %s", got, notary)
	}
}

func blob(t *testing.T, srv *httptest.Server, repo string, b []byte) map[string]any {
	t.Helper()
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	resp, err := http.Post(srv.URL+"/v2/"+repo+"/blobs/uploads/?digest="+d, "application/octet-stream", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("blob upload: %s", resp.Status)
	}
	return map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": d, "size": len(b)}
}

// put pushes m by digest and checks the OCI-Subject answer (none when
// subject is "").
func put(t *testing.T, srv *httptest.Server, repo string, m map[string]any, subject string) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/v2/"+repo+"/manifests/"+d, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("manifest push: %s", resp.Status)
	}
	if got := resp.Header.Get("OCI-Subject"); got != subject {
		t.Errorf("push of %s answered OCI-Subject %q, want %q", d, got, subject)
	}
	return d
}

// list reads a referrers listing as digest -> artifactType and checks its
// OCI-Filters-Applied header.
func list(t *testing.T, srv *httptest.Server, path, filters string) map[string]string {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("GET %s: %s %s: %s", path, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	if got := resp.Header.Get("OCI-Filters-Applied"); got != filters {
		t.Errorf("GET %s: OCI-Filters-Applied %q, want %q", path, got, filters)
	}
	var idx struct {
		Manifests []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range idx.Manifests {
		out[m.Digest] = m.ArtifactType
	}
	return out
}
