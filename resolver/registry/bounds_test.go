package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdkfront/sdkfront/internal/heapmeasure"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// hugeStringPages serves pages of tags (or, with key "repositories", a
// catalog) that each hold one string of huge bytes and then the strings
// of page i of small, linked with Link headers. The huge string is
// written from one shared buffer, so that serving allocates little.
func hugeStringPages(key string, huge int, small [][]string) fault {
	big := bytes.Repeat([]byte("a"), huge)
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		i := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("page"), &i) // no page: the first
		if i+1 < len(small) {
			w.Header().Set("Link", fmt.Sprintf("<%s?page=%d>; rel=\"next\"", r.URL.Path, i+1))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"sdks/golang",%q:[`, key)
		sep := ""
		if huge > 0 {
			fmt.Fprint(w, `"`)
			w.Write(big)
			fmt.Fprint(w, `"`)
			sep = ","
		}
		for _, s := range small[i] {
			fmt.Fprintf(w, `%s%q`, sep, s)
			sep = ","
		}
		fmt.Fprint(w, `]}`)
	}
}

// A tag of 30 MiB is skipped as it arrives, never held: listing four pages
// of one each takes little memory. Before, each such page took the page
// and the tag in memory, several times over.
func TestHugeTagMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 120 MiB")
	}
	p := newFaultProxy(t, http.NotFoundHandler())
	small := [][]string{{"1.0.0"}, {"1.0.1"}, {"1.0.2"}, {"1.0.3"}}
	p.always(tagsList, hugeStringPages("tags", 30<<20, small))
	c := New(WithTimeout(10*time.Minute), WithRequestTimeout(2*time.Minute)) // work that must succeed, however busy the machine
	m := heapmeasure.Run(func() any {
		tags, err := c.ListTags(context.Background(), p.host+"/sdks/golang")
		if err != nil || !slices.Equal(tags, []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"}) {
			t.Errorf("ListTags = %v, %v", tags, err)
		}
		return tags
	})
	t.Logf("4 pages of a 30 MiB tag: peak heap +%.1f MiB, retained +%.1f MiB, allocated %.1f MiB", heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Retained), heapmeasure.MiB(m.Total))
	if m.Peak > 8<<20 || m.Total > 16<<20 {
		t.Errorf("peak +%.1f MiB (max 8), allocated %.1f MiB (max 16)", heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Total))
	}
}

// The catalog is read as the tags are: a name of 8 MiB is skipped as it
// arrives, never held, and at most maxCatalogNames names are kept.
func TestCatalogHugeName(t *testing.T) {
	p := newFaultProxy(t, http.NotFoundHandler())
	var many []string
	for i := range maxCatalogNames + 500 {
		many = append(many, fmt.Sprintf("sdks/p%05d", i))
	}
	p.always(catalog, hugeStringPages("repositories", 8<<20, [][]string{append([]string{"sdks/golang", "UPPER/case", strings.Repeat("x", 256)}, many...)}))
	c := New(WithTimeout(10*time.Minute), WithRequestTimeout(2*time.Minute)) // work that must succeed, however busy the machine
	start := time.Now()
	m := heapmeasure.Run(func() any {
		repos, err := c.ListRepositories(context.Background(), p.host)
		if err != nil {
			t.Fatal(err)
		}
		if len(repos) != maxCatalogNames || repos[0] != p.host+"/sdks/golang" || repos[1] != p.host+"/sdks/p00000" {
			t.Errorf("ListRepositories = %d names: %.3q …", len(repos), repos[:min(3, len(repos))])
		}
		return repos
	})
	elapsed := time.Since(start)
	t.Logf("a catalog with an 8 MiB name: %s, peak heap +%.1f MiB, allocated %.1f MiB", elapsed, heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Total))
	if m.Peak > 8<<20 {
		t.Errorf("peak +%.1f MiB (max 8)", heapmeasure.MiB(m.Peak))
	}
}

// Tags that do not follow the distribution grammar are skipped, but count
// against the limits; so does every byte of every tag.
func TestTagBounds(t *testing.T) {
	invalid := []string{"", ".hidden", "-dash", "with space", "ünï", "a/b", strings.Repeat("x", 129), "tab\t"}
	valid := []string{"1.0.0", "_under", strings.Repeat("v", 128), "A.b-c_9"}
	page := func(tags ...string) fault {
		return hugeStringPages("tags", 0, [][]string{tags})
	}
	for _, tc := range []struct {
		name  string
		tags  []string
		opts  []Option
		want  []string
		limit string
	}{
		{"invalid skipped", append(slices.Clone(invalid), valid...), nil, valid, ""},
		{"invalid counted", append(slices.Clone(invalid), valid...), []Option{withLimits(0, len(valid)+len(invalid)-1)}, nil, fmt.Sprintf("lists more than %d tags", len(valid)+len(invalid)-1)},
		{"bytes counted", append(slices.Clone(invalid), valid...), []Option{withListBytes(200)}, nil, "lists more than 200 bytes of tags"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFaultProxy(t, http.NotFoundHandler())
			p.always(tagsList, page(tc.tags...))
			tags, err := New(append(tc.opts, fast)...).ListTags(context.Background(), p.host+"/sdks/golang")
			switch {
			case tc.limit == "" && (err != nil || !slices.Equal(tags, append([]string{""}, tc.want...)[1:])):
				t.Errorf("ListTags = %q, %v; want %q", tags, err, tc.want)
			case tc.limit != "" && (err == nil || !strings.Contains(err.Error(), tc.limit) || facts(err) != "list tags of, status 0, kind <nil>, cause list limit, anonymous true"):
				t.Errorf("error %v, want one containing %q", err, tc.limit)
			}
		})
	}
	if defaultMaxListBytes != 16<<20 {
		t.Errorf("a listing holds up to %s of tags, doc.go says 16 MiB", transport.Size(defaultMaxListBytes))
	}
}

// withListBytes lowers the bytes of tags a listing may hold.
func withListBytes(n int64) Option { return func(o *options) { o.maxListBytes = n } }

// An error quotes a sanitised excerpt of a response, never more: one
// line of printable text, at most 200 bytes of the body, whether the
// client read the answer or go-containerregistry did (the ping).
func TestErrorExcerpt(t *testing.T) {
	body := "<html>\x1b[2J\x1b]0;owned\x07 \u202eevil\r\nline two\x00" + strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name  string
		setup func(p *faultProxy)
	}{
		{"tags", func(p *faultProxy) {
			p.always(tagsList, status(http.StatusTeapot, body, "Content-Type: text/html"))
		}},
		{"ping", func(p *faultProxy) {
			p.always(tagsList, status(http.StatusUnauthorized, "", `WWW-Authenticate: Bearer realm="http://`+p.host+`/token"`))
			p.always(func(r *http.Request) bool { return r.URL.Path == "/v2/" }, status(http.StatusTeapot, body, "Content-Type: text/html"))
		}},
		{"token", func(p *faultProxy) {
			challenge := `WWW-Authenticate: Bearer realm="http://` + p.host + `/token"`
			p.always(tagsList, status(http.StatusUnauthorized, "", challenge))
			p.always(func(r *http.Request) bool { return r.URL.Path == "/v2/" }, status(http.StatusUnauthorized, "", challenge))
			p.always(func(r *http.Request) bool { return r.URL.Path == "/token" }, status(http.StatusOK, "{\"note\":\"\u202e"+strings.Repeat("y", 5000)+"\"}", "Content-Type: application/json"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFaultProxy(t, http.NotFoundHandler())
			tc.setup(p)
			_, err := New(fast).ListTags(context.Background(), p.host+"/sdks/golang")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, r := range msg {
				if r < ' ' || r == 0x7f || r == '\u202e' {
					t.Errorf("error has %U: %q", r, msg)
					break
				}
			}
			if n := strings.Count(msg, "x") + strings.Count(msg, "y"); n > 1000 {
				t.Errorf("error quotes %d bytes of the body: %.300q…", n, msg)
			}
			if len(msg) > 2000 {
				t.Errorf("error of %d bytes", len(msg))
			}
			if tc.name != "token" && !strings.Contains(msg, "<html>?[2J?]0;owned? ?evil line two?xxx") {
				t.Errorf("error %q, want the start of the body, sanitised", msg)
			}
			t.Logf("%s", msg)
		})
	}
}

// A statusError is not taken for a badResponse, whose message it lacks.
func TestStatusErrorIsNoBadResponse(t *testing.T) {
	var br *badResponse
	if errors.As(error(&statusError{code: 404}), &br) {
		t.Error("a statusError is no badResponse")
	}
	_ = resolver.ErrNotFound
}
