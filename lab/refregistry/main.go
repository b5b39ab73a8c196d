// Command refregistry is the lab's second registry, the one that serves the
// OCI 1.1 referrers API (GET /v2/<name>/referrers/<digest>), which the lab's
// distribution v3.1.2 does not: signatures pushed there land as referrers,
// those pushed to the main lab registry under the referrers tag schema
// (sha256-<hex>). lab/lab.sh up starts it on loopback (LAB_REFERRERS_PORT).
//
//	refregistry [-addr 127.0.0.1:5001]
//
// It is go-containerregistry's pkg/registry (in memory: a restart empties it)
// with its referrers support, plus the two things that support lacks and that
// clients rely on: each listed descriptor's artifactType is the manifest's own
// artifactType (the spec's rule; pkg/registry gives the config's media type,
// the empty one for notation's and cosign's artifacts), the artifactType
// filter is applied (OCI-Filters-Applied), and a pushed manifest with a
// subject is answered with OCI-Subject, so that clients do not also write a
// tag-schema index.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// maxManifest bounds what the lab registry reads of a pushed manifest (the
// distribution spec's recommended minimum to accept is 4 MiB).
const maxManifest = 4 << 20

func main() {
	log.SetFlags(0)
	log.SetPrefix("refregistry: ")
	addr := flag.String("addr", "127.0.0.1:5001", "loopback host:port to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: logged(newHandler()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Close()
	}()
	log.Printf("serving the referrers API on http://%s", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// newHandler is pkg/registry with referrers, corrected as the package doc
// says.
func newHandler() http.Handler {
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && isReferrers(r.URL.Path):
			referrers(inner, w, r)
		case r.Method == http.MethodPut && isManifest(r.URL.Path):
			body, err := io.ReadAll(io.LimitReader(r.Body, maxManifest+1))
			if err != nil || len(body) > maxManifest {
				http.Error(w, "manifest unreadable or over 4 MiB", http.StatusRequestEntityTooLarge)
				return
			}
			var m struct {
				Subject *struct {
					Digest string `json:"digest"`
				} `json:"subject"`
			}
			if json.Unmarshal(body, &m) == nil && m.Subject != nil {
				w.Header().Set("OCI-Subject", m.Subject.Digest)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			inner.ServeHTTP(w, r)
		default:
			inner.ServeHTTP(w, r)
		}
	})
}

// referrers answers GET /v2/<name>/referrers/<digest> from pkg/registry's
// listing, each descriptor's artifactType read from its manifest.
func referrers(inner http.Handler, w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, r.Clone(r.Context()))
	if rec.Code != http.StatusOK {
		copyResponse(w, rec)
		return
	}
	var idx struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
		http.Error(w, "referrers listing: "+err.Error(), http.StatusInternalServerError)
		return
	}
	repo := strings.TrimPrefix(r.URL.Path[:strings.LastIndex(r.URL.Path, "/referrers/")], "/v2/")
	want := r.URL.Query().Get("artifactType")
	kept := []json.RawMessage{}
	for _, raw := range idx.Manifests {
		var d map[string]any
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		dgst, _ := d["digest"].(string)
		if at := artifactType(inner, r, repo, dgst); at != "" {
			d["artifactType"] = at
		}
		if want != "" && d["artifactType"] != want {
			continue
		}
		b, err := json.Marshal(d)
		if err != nil {
			continue
		}
		kept = append(kept, b)
	}
	idx.Manifests = kept
	out, err := json.Marshal(idx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if want != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
	w.Header().Set("Content-Length", fmt.Sprint(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// artifactType is the artifactType field of repo's manifest dgst, or "".
func artifactType(inner http.Handler, r *http.Request, repo, dgst string) string {
	req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, "/v2/"+repo+"/manifests/"+dgst, nil)
	rec := httptest.NewRecorder()
	inner.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return ""
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		return ""
	}
	return m.ArtifactType
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func isReferrers(p string) bool {
	e := strings.Split(p, "/")
	return len(e) >= 5 && e[1] == "v2" && e[len(e)-2] == "referrers"
}

func isManifest(p string) bool {
	e := strings.Split(p, "/")
	return len(e) >= 5 && e[1] == "v2" && e[len(e)-2] == "manifests"
}

// logged writes one access-log line per request to stderr (lab.sh sends it
// to .lab/logs/refregistry.log), in the spirit of the main registry's.
func logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		log.Printf("%s %s %d %q", r.Method, r.URL.RequestURI(), sw.code, r.UserAgent())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
