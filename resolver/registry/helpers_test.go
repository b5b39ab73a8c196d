package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is an in-process registry. Its host is on 127.0.0.1, so it
// is reached over plain HTTP.
type testRegistry struct {
	*httptest.Server
	host string
}

// newRegistry starts ggcr's in-memory registry, wrapped by the given
// middlewares (outermost first).
func newRegistry(t *testing.T, wrap ...func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	for i := len(wrap) - 1; i >= 0; i-- {
		h = wrap[i](h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return &testRegistry{Server: s, host: strings.TrimPrefix(s.URL, "http://")}
}

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

// push writes an image or index to repo:tag of the registry.
func (r *testRegistry) push(t *testing.T, repoTag string, img remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	switch img := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, img)
	case v1.Image:
		err = remote.Write(ref, img)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// pushRaw PUTs a manifest of any media type.
func (r *testRegistry) pushRaw(t *testing.T, repo, tag string, mt types.MediaType, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/%s/manifests/%s", r.URL, repo, tag), bytes.NewReader(body))
	req.Header.Set("Content-Type", string(mt))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest: %s", resp.Status)
	}
}

// paged serves tags/list in pages of size, linking pages with a Link header
// as distribution does (ggcr's registry honours n and last but sends no
// Link). pages counts the page requests.
func paged(size int, pages *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/tags/list") {
				next.ServeHTTP(w, r)
				return
			}
			pages.Add(1)
			// Fetch the whole list, then cut the page out of it.
			all := httptest.NewRecorder()
			inner := r.Clone(r.Context())
			inner.URL.RawQuery = ""
			next.ServeHTTP(all, inner)
			var list struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if all.Code != http.StatusOK || json.Unmarshal(all.Body.Bytes(), &list) != nil {
				w.WriteHeader(all.Code)
				w.Write(all.Body.Bytes())
				return
			}
			start := 0
			if last := r.URL.Query().Get("last"); last != "" {
				for start < len(list.Tags) && list.Tags[start] <= last {
					start++
				}
			}
			end := min(start+size, len(list.Tags))
			if end < len(list.Tags) {
				next := url.URL{Path: r.URL.Path, RawQuery: url.Values{"n": {fmt.Sprint(size)}, "last": {list.Tags[end-1]}}.Encode()}
				w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next.String()))
			}
			list.Tags = list.Tags[start:end]
			_ = json.NewEncoder(w).Encode(list)
		})
	}
}

// bearer demands a bearer token, as Docker Hub and most hosted registries
// do, and serves the token endpoint at /token (ggcr accepts a realm on an IP
// address only on the registry's own host:port). tokens counts issued
// tokens, authorized the requests that carried one. With deny set, the token
// endpoint refuses every request.
func bearer(deny bool, tokens, authorized *atomic.Int32) func(http.Handler) http.Handler {
	const token = "s3cret"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/token":
				if deny || r.URL.Query().Get("service") != "test-registry" {
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"go away"}]}`)
					return
				}
				tokens.Add(1)
				_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
			case r.Header.Get("Authorization") != "Bearer "+token:
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test-registry",scope="repository:sdks/golang:pull"`, r.Host))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			default:
				if r.Method == http.MethodGet && r.URL.Path != "/v2/" {
					authorized.Add(1)
				}
				next.ServeHTTP(w, r)
			}
		})
	}
}
