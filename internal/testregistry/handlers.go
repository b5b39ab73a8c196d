package testregistry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
)

// Paged serves tags/list in pages of size, linking pages with a Link header
// as distribution does (ggcr's registry honours n and last but sends no
// Link), for Wrap. pages counts the page requests.
func Paged(size int, pages *atomic.Int32) func(http.Handler) http.Handler {
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

// TokenService demands a bearer token, as Docker Hub and most hosted
// registries do, and serves the token endpoint at /token on the registry's
// own host (ggcr accepts a realm on an IP address only on the registry's
// own host:port), for Wrap. tokens counts issued tokens, authorized the
// GETs that carried one. With deny set, the token endpoint refuses every
// request.
func TokenService(deny bool, tokens, authorized *atomic.Int32) func(http.Handler) http.Handler {
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
