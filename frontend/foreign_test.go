package frontend

import (
	"context"
	"errors"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// layeredTags is fakeTags whose registry serves the stub's images'
// manifests, with the given layer URLs, or fails to.
type layeredTags struct {
	*fakeTags
	s    *stubClient
	urls []string
	err  error
}

func (l layeredTags) ResolveManifest(_ context.Context, ref string, _ ocispecs.Platform, config bool) (resolver.Manifest, error) {
	if l.err != nil {
		return resolver.Manifest{}, l.err
	}
	img, err := l.s.image(ref)
	if err != nil {
		return resolver.Manifest{}, errors.Join(resolver.ErrNotFound, err)
	}
	m := resolver.Manifest{Digest: img.digest, Layers: []ocispecs.Descriptor{{Digest: "sha256:4f0c", Size: 1 << 20, URLs: l.urls}}}
	if config {
		m.Config = img.config
	}
	return m, nil
}

func TestForeignLayerURLs(t *testing.T) {
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\n"
	cases := []struct {
		name    string
		urls    []string
		allow   string
		err     error
		wantErr string
		warn    string
	}{
		{name: "none"},
		{name: "refused", urls: []string{"https://cdn.example/go.tgz"}, wantErr: "carries foreign URLs (https://cdn.example/go.tgz)"},
		{name: "allowed", urls: []string{"https://cdn.example/go.tgz"}, allow: "other.example, cdn.example"},
		{name: "unreadable", err: errors.Join(resolver.ErrUnreachable, errors.New("dial tcp: no route")), warn: "SDKLayersUnchecked: SDK golang@1.23.4: sdkfront could not read the manifest"},
		{name: "direct", urls: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, tags := sdkStub(df)
			if c.allow != "" {
				s.opts["build-arg:SDK_ALLOW_FOREIGN_URLS"] = c.allow
			}
			wr := &warnRecorder{stubClient: s}
			_, err := build(context.Background(), wr, layeredTags{fakeTags: tags, s: s, urls: c.urls, err: c.err})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "SDK_ALLOW_FOREIGN_URLS") {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				if src := sourceOf(t, err); src.Ranges[0].Start.Line != 3 {
					t.Errorf("error at line %d", src.Ranges[0].Start.Line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, m := range wr.msgs {
				warned = warned || (c.warn != "" && strings.HasPrefix(m, c.warn))
			}
			if warned != (c.warn != "") {
				t.Errorf("warnings %q, want %q", wr.msgs, c.warn)
			}
		})
	}
}
