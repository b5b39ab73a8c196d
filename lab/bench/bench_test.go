package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The synthesized tag list pages as the distribution registry does: n
// clamped to the largest page, last, and a Link to the next page, until
// every tag was listed once.
func TestServeTagsPages(t *testing.T) {
	p := &proxy{maxPage: 1000, synth: map[string][]string{"huge/golang": hugeTags()}}
	if n := len(p.synth["huge/golang"]); n != 200_000 {
		t.Fatalf("%d tags", n)
	}
	url, pages, seen := "/v2/huge/golang/tags/list?n=5000", 0, map[string]bool{}
	for url != "" {
		pages++
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		var body struct{ Tags []string }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Tags) > 1000 {
			t.Fatalf("page of %d tags", len(body.Tags))
		}
		for _, tag := range body.Tags {
			if seen[tag] {
				t.Fatalf("%s listed twice", tag)
			}
			seen[tag] = true
		}
		url = ""
		if l := rec.Header().Get("Link"); l != "" {
			url = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
		}
	}
	if pages != 200 || len(seen) != 200_000 || !seen["bookworm-1.23.19"] {
		t.Fatalf("%d pages, %d tags", pages, len(seen))
	}
}

func TestSplitV2(t *testing.T) {
	for in, want := range map[string][2]string{
		"/v2/big/golang/tags/list":          {"big/golang", "tags/list"},
		"/v2/a/b/c/manifests/bookworm-1.0":  {"a/b/c", "manifests/bookworm-1.0"},
		"/v2/sdks/golang/blobs/sha256:abcd": {"sdks/golang", "blobs/sha256:abcd"},
	} {
		repo, rest, ok := splitV2(in)
		if !ok || repo != want[0] || rest != want[1] {
			t.Errorf("splitV2(%q) = %q, %q, %v", in, repo, rest, ok)
		}
	}
	if _, _, ok := splitV2("/v2/"); ok {
		t.Error("/v2/ split")
	}
}

// The registry's access log lines are parsed into requests.
func TestAccessLog(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	err := os.WriteFile(f, []byte(`time="x" level=info msg="response completed"
127.0.0.1 - - [30/Nov/2026:04:00:00 +0000] "GET /v2/big/golang/blobs/sha256:ab HTTP/1.1" 200 1234 "" "buildkit/v0.34.2"
127.0.0.1 - - [30/Nov/2026:04:00:00 +0000] "HEAD /v2/sdkfront/manifests/dev HTTP/1.1" 200 0 "" "sdkfront"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	rs := accessLog{path: f}.since(0)
	if len(rs) != 2 || rs[0].bytes != 1234 || rs[0].method != "GET" || agentKind(rs[0].agent) != "buildkit" || agentKind(rs[1].agent) != "sdkfront" {
		t.Fatalf("%+v", rs)
	}
}

func TestMedian(t *testing.T) {
	ss := []sample{{secs: 3}, {secs: 1}, {secs: 2}}
	if m, _ := med(ss); m.secs != 2 {
		t.Fatal(m.secs)
	}
	if r := rotate([]int{1, 2, 3}, 4); r[0] != 2 || r[2] != 1 {
		t.Fatal(r)
	}
}
