package testregistry

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// get fetches path from r with the Authorization header auth (if set).
func get(t *testing.T, r *Registry, path, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// A pushed image is served as built: its digest, OCI media types, its
// config's platform and labels, and foreign URLs; pushes are not requests.
func TestPushImage(t *testing.T) {
	r := New(t)
	img := NewImage(t, "linux/arm64/v8", map[string]string{"k": "v"},
		GzipLayer(t, Entry{Name: "a", Body: "b"}), WithURLs(Blob([]byte("far")), "https://cdn.example/far"))
	r.Push(t, "sdks/x:1", img)
	if n := r.Requests(); n != 0 {
		t.Errorf("%d requests after a push, want 0", n)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, r, "/v2/sdks/x/manifests/1", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != want.String() {
		t.Fatalf("GET manifest: %s, digest %q, want %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), want)
	}
	var m struct {
		MediaType string
		Config    struct{ MediaType, Digest string }
		Layers    []struct{ URLs []string }
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("media types %q, %q", m.MediaType, m.Config.MediaType)
	}
	if len(m.Layers) != 2 || m.Layers[0].URLs != nil || fmt.Sprint(m.Layers[1].URLs) != "[https://cdn.example/far]" {
		t.Errorf("layers %+v", m.Layers)
	}
	_, body = get(t, r, "/v2/sdks/x/blobs/"+m.Config.Digest, "")
	var cfg struct {
		OS, Architecture, Variant string
		Config                    struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfg.OS, "/", cfg.Architecture, "/", cfg.Variant, " ", cfg.Config.Labels); got != "linux/arm64/v8 map[k:v]" {
		t.Errorf("config %s", got)
	}
	if n := r.Requests(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	// The same arguments, the same digest.
	again, _ := NewImage(t, "linux/arm64/v8", map[string]string{"k": "v"},
		GzipLayer(t, Entry{Name: "a", Body: "b"}), WithURLs(Blob([]byte("far")), "https://cdn.example/far")).Digest()
	if again != want {
		t.Errorf("digest %s, then %s", want, again)
	}
}

// An index lists each image under its config's platform.
func TestNewIndex(t *testing.T) {
	idx := NewIndex(t, NewImage(t, "linux/amd64", nil, Blob([]byte("a"))), NewImage(t, "linux/arm/v7", nil, Blob([]byte("b"))))
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String())
	}
	if string(im.MediaType) != "application/vnd.oci.image.index.v1+json" || fmt.Sprint(got) != "[linux/amd64 linux/arm/v7]" {
		t.Errorf("index %s of %v", im.MediaType, got)
	}
	r := New(t)
	r.Push(t, "sdks/i:1", idx)
	want, _ := idx.Digest()
	if resp, _ := get(t, r, "/v2/sdks/i/manifests/1", ""); resp.Header.Get("Docker-Content-Digest") != want.String() {
		t.Errorf("served %q, want %s", resp.Header.Get("Docker-Content-Digest"), want)
	}
}

// Auth gates the server, not pushes; bearer tokens do not reach the store.
func TestAuth(t *testing.T) {
	for _, tc := range []struct {
		opt             Option
		challenge, good string
	}{
		{BasicAuth("dev", "s3cret"), `Basic realm="sdks"`, "Basic ZGV2OnMzY3JldA=="},
		{BearerAuth("http://localhost:1/token", "tok"), `Bearer realm="http://localhost:1/token",service="sdks"`, "Bearer tok"},
	} {
		r := New(t, tc.opt)
		r.Push(t, "sdks/x:1", NewImage(t, "linux/amd64", nil))
		for _, auth := range []string{"", "Basic ZGV2Om5v", "Bearer nope"} {
			resp, body := get(t, r, "/v2/sdks/x/manifests/1", auth)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != tc.challenge || !bytes.Contains(body, []byte(`"UNAUTHORIZED"`)) {
				t.Errorf("%s with %q: %s, challenge %q, body %s", tc.challenge, auth, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
		if resp, _ := get(t, r, "/v2/sdks/x/manifests/1", tc.good); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with %q: %s", tc.challenge, tc.good, resp.Status)
		}
	}
}

// Tar writes each kind of entry as its fields say.
func TestTar(t *testing.T) {
	dt := Tar(t, Entry{Name: "d/"}, Entry{Name: "d/f", Body: "hi"}, Entry{Name: "s", Link: "d/f"}, Entry{Name: "h", Hard: "d/f"})
	tr := tar.NewReader(bytes.NewReader(dt))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%s %c %o %q %q", h.Name, h.Typeflag, h.Mode, h.Linkname, body))
	}
	want := `[d/ 5 755 "" "" d/f 0 644 "" "hi" s 2 644 "d/f" "" h 1 644 "d/f" ""]`
	if fmt.Sprint(got) != want {
		t.Errorf("entries\n%v\nwant\n%s", got, want)
	}
}

// Wrap puts handlers in front of the registry, the first outermost, and
// its auth behind them; pushes and PushManifest go past them all, and a
// manifest of any media type is served as pushed.
func TestWrapAndPushManifest(t *testing.T) {
	var order []string
	mark := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	r := New(t, BasicAuth("dev", "pw"), Wrap(mark("outer"), mark("inner")))
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	r.PushManifest(t, "sdks/golang", "empty", "application/vnd.oci.image.index.v1+json", body)
	if len(order) != 0 || r.Requests() != 0 {
		t.Fatalf("a push went through the wrappers (%v) or counted (%d)", order, r.Requests())
	}
	resp, _ := get(t, r, "/v2/sdks/golang/manifests/empty", "")
	if resp.StatusCode != http.StatusUnauthorized || fmt.Sprint(order) != "[outer inner]" {
		t.Errorf("without credentials: HTTP %d through %v; want 401 through [outer inner]", resp.StatusCode, order)
	}
	resp, got := get(t, r, "/v2/sdks/golang/manifests/empty", "Basic ZGV2OnB3")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, body) || resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("with credentials: HTTP %d, %s, %q", resp.StatusCode, got, resp.Header.Get("Content-Type"))
	}
}
