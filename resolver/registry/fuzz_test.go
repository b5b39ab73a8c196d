package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Fuzz targets of what the client parses from registries (make fuzz).
// Seeds are in testdata/fuzz/. Properties: no panics, errors for invalid
// input, and agreement with a reference decoder or a round trip.

var fuzzBase = &url.URL{Scheme: "https", Host: "registry.example", Path: "/v2/sdks/golang/tags/list", RawQuery: "n=100"}

// FuzzLinkHeader parses a Link header value. A link it finds resolves
// against the request URL; a lone well-formed <uri>; rel="next" made of the
// input comes back as that URI.
func FuzzLinkHeader(f *testing.F) {
	f.Add(`</v2/sdks/golang/tags/list?last=bookworm-1.23.4&n=100>; rel="next"`)
	f.Fuzz(func(t *testing.T, h string) {
		if u := nextLink([]string{h}, fuzzBase); u != nil && !u.IsAbs() {
			t.Fatalf("nextLink(%q) = %q, not absolute", h, u)
		}
		for _, l := range parseLinks(h) {
			if strings.Contains(l.target, ">") {
				t.Fatalf("parseLinks(%q): target %q has '>'", h, l.target)
			}
		}
		// Round trip: the input as a URI reference.
		if strings.ContainsAny(h, "<>") || strings.TrimSpace(h) != h || h == "" {
			return
		}
		want, err := url.Parse(h)
		if err != nil {
			return
		}
		want = fuzzBase.ResolveReference(want)
		for _, hdr := range []string{"<" + h + `>; rel="next"`, "<" + h + ">;rel=next", `<https://other.example/x>; rel="prev", <` + h + `>; rel="next last"`} {
			if got := nextLink([]string{hdr}, fuzzBase); got == nil || got.String() != want.String() {
				t.Fatalf("nextLink(%q) = %v, want %v", hdr, got, want)
			}
		}
	})
}

// formatChallenges writes challenges back as a WWW-Authenticate value.
func formatChallenges(chs []challenge) string {
	var parts []string
	for _, ch := range chs {
		var ps []string
		for _, k := range slices.Sorted(maps.Keys(ch.Params)) {
			v := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(ch.Params[k])
			ps = append(ps, k+`="`+v+`"`)
		}
		parts = append(parts, strings.TrimSpace(ch.Scheme+" "+strings.Join(ps, ", ")))
	}
	return strings.Join(parts, ", ")
}

// FuzzWWWAuthenticate parses a WWW-Authenticate value (for messages), and
// hands it to go-containerregistry's ping and token exchange, which parse
// it to authenticate: neither may panic, and sdkfront's parse is stable
// under formatting.
func FuzzWWWAuthenticate(f *testing.F) {
	f.Add(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/golang:pull"`)
	f.Fuzz(func(t *testing.T, h string) {
		chs := parseChallenges(h)
		for _, ch := range chs {
			if ch.Scheme == "" {
				t.Fatalf("parseChallenges(%q): empty scheme", h)
			}
		}
		again := parseChallenges(formatChallenges(chs))
		if len(again) != len(chs) {
			t.Fatalf("parseChallenges(%q) = %v; formatted %q parses as %v", h, chs, formatChallenges(chs), again)
		}
		for i := range chs {
			if again[i].Scheme != chs[i].Scheme || !maps.Equal(again[i].Params, chs[i].Params) {
				t.Fatalf("parseChallenges(%q) = %v; formatted %q parses as %v", h, chs, formatChallenges(chs), again)
			}
		}
		describeChallenge(&statusError{code: 401, challenge: h})

		// ggcr: ping gets the challenge, then asks the realm for a token.
		if !utf8.ValidString(h) || strings.ContainsAny(h, "\r\n\x00") {
			return
		}
		reg, _ := name.NewRegistry("registry.example")
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/v2/" {
				return &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {h}}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"token":"t"}`)), Request: r}, nil
		})
		_, _ = ggcrtransport.NewWithContext(context.Background(), reg, authn.Anonymous, rt, []string{"repository:sdks/golang:pull"})
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzDecodeTags decodes a tags/list body as a listing does, token by
// token: it accepts the bodies encoding/json accepts, its tags are the
// valid ones among encoding/json's, every tag counts, and the limits hold.
func FuzzDecodeTags(f *testing.F) {
	f.Add([]byte(`{"name":"oryx/python-sdk","tags":["bookworm-3.11.9","bookworm-3.13.0rc2"]}`))
	f.Add([]byte(`{"tags":["ok",".bad","",null,"also-ok"],"tags":["last"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		decode := func(maxTags int) (*tagList, error) {
			l := &tagList{maxTags: maxTags, maxBytes: 1 << 30}
			err := decodeList(bytes.NewReader(data), "tags", l.add, func() { l.tags, l.listed, l.bytes, l.invalid = l.tags[:0], 0, 0, 0 })
			return l, err
		}
		l, err := decode(1 << 20)
		var ref map[string]json.RawMessage
		refErr := json.Unmarshal(data, &ref)
		if b := bytes.TrimLeft(data, " \t\r\n"); refErr == nil && (len(b) == 0 || b[0] != '{') {
			refErr = errors.New("not an object") // null decodes into a map
		}
		var all []string
		if raw, ok := ref["tags"]; ok && refErr == nil {
			refErr = json.Unmarshal(raw, &all)
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("%q: decoded with error %v; encoding/json: %v", data, err, refErr)
		}
		if err != nil {
			return
		}
		var want []string
		for _, tag := range all {
			if validTag(tag) {
				want = append(want, tag)
			}
		}
		if !slices.Equal(l.tags, want) || l.listed != len(all) || l.invalid != len(all)-len(want) {
			t.Fatalf("%q: tags %q (%d listed, %d invalid), encoding/json says %q", data, l.tags, l.listed, l.invalid, all)
		}
		if len(all) > 0 {
			var le *limitError
			if _, err := decode(len(all) - 1); !errors.As(err, &le) {
				t.Fatalf("%q with a limit of %d tags: %v, want a limitError", data, len(all)-1, err)
			}
		}
	})
}

// FuzzManifest verifies and decodes a manifest response as PlatformDigests
// and ResolvePlatform do. What verifies hashes to its digest and to the
// digests it was checked against; an index's platforms survive a
// re-encoding; choosing a platform never panics.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), "application/vnd.oci.image.index.v1+json", uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, contentType string, mode uint8) {
		var dcd, pinned string
		d := digest.FromBytes(body).String()
		switch mode % 4 {
		case 1:
			dcd = d
		case 2:
			pinned = d
		case 3:
			dcd, pinned = d, d
		}
		m, err := verifyManifest(body, contentType, dcd, pinned)
		if err != nil {
			var br *badResponse
			if !errors.As(err, &br) {
				t.Fatalf("verifyManifest error %v is no badResponse", err)
			}
			return
		}
		if m.digest != digest.Digest(d) || !knownManifest(m.mediaType) {
			t.Fatalf("verifyManifest: digest %s (want %s), media type %q", m.digest, d, m.mediaType)
		}
		wrong := digest.FromString("x").String()
		if _, err := verifyManifest(body, contentType, wrong, ""); err == nil && !m.mediaType.IsSchema1() {
			t.Fatalf("verifyManifest accepted a wrong Docker-Content-Digest")
		}
		if _, err := verifyManifest(body, contentType, "", wrong); err == nil && string(body) != "x" {
			t.Fatalf("verifyManifest accepted a wrong pinned digest")
		}
		switch {
		case m.mediaType.IsIndex():
			index, err := m.index()
			if err != nil {
				return
			}
			p := platformDigests(index)
			b, err := json.Marshal(index)
			if err != nil {
				t.Fatalf("re-encoding the index: %v", err)
			}
			index2, err := v1.ParseIndexManifest(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("re-encoded index %s does not parse: %v", b, err)
			}
			if p2 := platformDigests(index2); !maps.Equal(p, p2) {
				t.Fatalf("platforms %v, after re-encoding %v", p, p2)
			}
			for _, pl := range []ocispecs.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm", Variant: "v7"}, {OS: "windows", Architecture: "amd64"}} {
				_, _ = choose("x", index, pl) // must not panic; no platform need match
			}
		case m.mediaType.IsImage():
			_, _ = m.image() // must not panic
		}
	})
}
