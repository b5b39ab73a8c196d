package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestFaultsLab runs the fault rows against the lab registry (make lab-up
// seed; SDKFRONT_LAB=1): the fault proxy forwards to it what it does not
// fake. It needs sdks/golang and the index sdks/multi that make seed pushes.
func TestFaultsLab(t *testing.T) {
	if os.Getenv("SDKFRONT_LAB") != "1" {
		t.Skip("set SDKFRONT_LAB=1 to run against the lab registry")
	}
	lab := os.Getenv("LAB_REGISTRY")
	if lab == "" {
		lab = "127.0.0.1:5000"
	}
	for _, row := range faultRows() {
		t.Run(row.name, func(t *testing.T) {
			f := newLabFixture(t, lab, row.wrap...)
			runFaultRow(t, f, row)
		})
	}
}

// newLabFixture puts a fault proxy in front of the lab registry and reads
// what the rows expect from the registry itself.
func newLabFixture(t *testing.T, lab string, wrap ...func(http.Handler) http.Handler) *faultFixture {
	t.Helper()
	target := &url.URL{Scheme: "http", Host: lab}
	var backend http.Handler = httputil.NewSingleHostReverseProxy(target)
	for i := len(wrap) - 1; i >= 0; i-- {
		backend = wrap[i](backend)
	}
	p := newFaultProxy(t, backend)
	f := &faultFixture{proxy: p, repo: p.host + "/sdks/golang", indexRepo: p.host + "/sdks/multi"}

	get := func(path string, accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", target.String()+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skipf("lab registry: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Skipf("lab registry: GET %s: %s", path, resp.Status)
		}
		return resp, b
	}
	var list struct{ Tags []string }
	for _, repo := range []string{"sdks/golang", "sdks/multi"} {
		_, b := get("/v2/"+repo+"/tags/list", "")
		list.Tags = nil
		if err := json.Unmarshal(b, &list); err != nil || len(list.Tags) == 0 {
			t.Skipf("lab registry: no tags in %s (make seed)", repo)
		}
		if repo == "sdks/golang" {
			f.tags = slices.Sorted(slices.Values(list.Tags))
			f.image = f.repo + ":" + f.tags[0]
			continue
		}
		tag := list.Tags[0]
		resp, b := get("/v2/"+repo+"/manifests/"+tag, manifestAccept)
		if types.MediaType(resp.Header.Get("Content-Type")) != types.OCIImageIndex && types.MediaType(resp.Header.Get("Content-Type")) != types.DockerManifestList {
			t.Skipf("lab registry: %s:%s is not an index", repo, tag)
		}
		m, err := verifyManifest(b, resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest"), "")
		if err != nil {
			t.Fatal(err)
		}
		idx, err := m.index()
		if err != nil {
			t.Fatal(err)
		}
		f.index, f.indexDigest, f.platforms = f.indexRepo+":"+tag, m.digest.String(), platformDigests(idx)
	}
	// The image must be a single manifest.
	resp, _ := get("/v2/sdks/golang/manifests/"+strings.TrimPrefix(f.image, f.repo+":"), manifestAccept)
	if mt := types.MediaType(resp.Header.Get("Content-Type")); !mt.IsImage() {
		t.Skipf("lab registry: %s is a %s", f.image, mt)
	}
	return f
}
