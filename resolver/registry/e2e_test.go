package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

// remoteImages is an ImageResolver reading the registry directly, standing
// in for BuildKit's ResolveImageConfig: the digest of what the tag points
// to, and the config of the image for the platform.
type remoteImages struct{}

func (remoteImages) ResolveImage(ctx context.Context, ref string, p ocispecs.Platform, _ string) (digest.Digest, []byte, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", nil, err
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}))
	if err != nil {
		var terr *ggcrtransport.Error
		if errors.As(err, &terr) && terr.StatusCode == 404 {
			return "", nil, fmt.Errorf("%s: %w", ref, resolver.ErrNotFound)
		}
		return "", nil, err
	}
	img, err := desc.Image() // picks the platform from an index
	if err != nil {
		return "", nil, err
	}
	config, err := img.RawConfigFile()
	return digest.Digest(desc.Digest.String()), config, err
}

// The resolver and the registry client together, against a registry that
// pages its tag list and demands bearer tokens.
func TestResolveEndToEnd(t *testing.T) {
	var pages, tokens, authorized atomic.Int32
	var mu sync.Mutex
	requested := map[string]int{} // authorized tag list page -> times
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") && r.Header.Get("Authorization") != "" {
				mu.Lock()
				requested[r.URL.Path+"?"+r.URL.RawQuery]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := testregistry.New(t, testregistry.Wrap(record, testregistry.Paged(2, &pages), testregistry.TokenService(false, &tokens, &authorized)))
	golang := reg.Host + "/sdks/golang"
	reg.Push(t, "sdks/golang:bookworm-1.22.10", sdkImage(t, false, nil))
	reg.Push(t, "sdks/golang:bookworm-1.23.0", sdkImage(t, true, nil))
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkIndex(t, true, "linux/amd64", "linux/arm64"))
	reg.Push(t, "sdks/golang:bookworm-1.24rc1", sdkImage(t, true, nil))
	reg.Push(t, "sdks/golang:bullseye-1.21.0", sdkImage(t, false, nil))
	reg.Push(t, "sdks/golang:bookworm-default", sdkImage(t, true, map[string]string{"org.oryx.version": "1.23.4"}))
	reg.Push(t, "sdks/dotnet:bookworm-8.0.404_8.0.11", sdkIndex(t, false, "linux/amd64", "linux/arm64"))
	reg.Push(t, "sdks/dotnet:bookworm-8.0.303_8.0.7", sdkImage(t, false, nil))
	reg.Push(t, "sdks/dotnet:bookworm-default", sdkImage(t, false, map[string]string{"org.oryx.sdk.version": "8.0.404"}))
	reg.Push(t, "sdks/python:bookworm-3.12.1", sdkImage(t, true, nil))
	reg.Push(t, "sdks/python:bookworm-3.13.0rc2", sdkImage(t, true, nil))
	pages.Store(0)

	src := resolver.MustParseSource(reg.Host + "/sdks/{platform}:{flavor}-{version}")
	r := resolver.NewWithRegistry(remoteImages{}, New(fast).Registry())
	resolve := func(ref, flavor string) (resolver.Resolution, error) {
		t.Helper()
		parsed, err := resolver.ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		return r.Resolve(context.Background(), resolver.Request{
			Ref: parsed, Flavor: flavor, Source: src,
			Target: ocispecs.Platform{OS: "linux", Architecture: "arm64"},
		})
	}

	for _, tc := range []struct{ ref, flavor, tag string }{
		{"golang", "bookworm", "bookworm-default"}, // the default tag's image, labelled 1.23.4
		{"golang@1.22", "bookworm", "bookworm-1.22.10"},
		{"golang@latest", "bookworm", "bookworm-1.23.4"},
		{"golang@>=1.24.0-0", "bookworm", "bookworm-1.24rc1"},
		{"golang@1.21", "bullseye", "bullseye-1.21.0"},
		{golang + "@~1.23", "bookworm", "bookworm-1.23.4"},
		{"dotnet", "bookworm", "bookworm-default"},
		{"dotnet@8.0.303", "bookworm", "bookworm-8.0.303_8.0.7"},
		{"python@3.13.0-rc2", "bookworm", "bookworm-3.13.0rc2"},
	} {
		res, err := resolve(tc.ref, tc.flavor)
		if err != nil {
			t.Errorf("%s: %v", tc.ref, err)
			continue
		}
		tagRef, err := name.ParseReference(res.Repository + ":" + tc.tag)
		if err != nil {
			t.Fatal(err)
		}
		want, err := remote.Head(tagRef)
		if err != nil {
			t.Fatal(err)
		}
		if res.Tag != tc.tag || res.Digest.String() != want.Digest.String() || res.Ref != tc.ref {
			t.Errorf("%s: resolved %s@%s, want %s@%s", tc.ref, res.Tag, res.Digest, tc.tag, want.Digest)
		}
	}

	res, _ := resolve("golang@1.23", "bookworm")
	if len(res.Platforms) != 2 || res.Platforms["linux/arm64"] == "" {
		t.Errorf("Platforms of an index = %v, want linux/amd64 and linux/arm64", res.Platforms)
	}
	if res, _ := resolve("golang@1.22", "bookworm"); res.Platforms != nil {
		t.Errorf("Platforms of a single manifest = %v, want none", res.Platforms)
	}

	// No page was asked for twice: each repository is listed once for each
	// prefix its references need (bookworm-1.22, bookworm- for latest and
	// the ranges, bullseye-1.21, ...), with a bearer token.
	if len(requested) == 0 {
		t.Error("no tag list page was requested with a token")
	}
	for page, n := range requested {
		if n != 1 {
			t.Errorf("%s requested %d times", page, n)
		}
	}
	if int(pages.Load()) > len(requested)+3 { // at most one anonymous try a repository
		t.Errorf("%d tag list requests for %d pages", pages.Load(), len(requested))
	}
	if tokens.Load() == 0 || authorized.Load() == 0 {
		t.Errorf("bearer token issued %d times, used %d times", tokens.Load(), authorized.Load())
	}

	for _, tc := range []struct {
		ref, flavor string
		is          error
		msg         string
	}{
		{"nodejs@20", "bookworm", resolver.ErrRepositoryNotFound,
			fmt.Sprintf(`no SDK repository %s/sdks/nodejs for platform "nodejs"`, reg.Host)},
		{"golang@1.99", "bookworm", resolver.ErrNoMatch,
			`no golang version matches "1.99" (flavor bookworm); nearest available: 1.23.4, 1.23.0, 1.22.10`},
		{"golang@1.23", "alpine", resolver.ErrUnknownFlavor, `available flavors: bookworm, bullseye`},
	} {
		_, err := resolve(tc.ref, tc.flavor)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v\nwant %v containing %q", tc.ref, err, tc.is, tc.msg)
		}
	}
}

// A registry that cannot be listed fails ranges with ErrListUnavailable
// but still serves tagged exact versions.
func TestResolveEndToEndListUnavailable(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	src := resolver.MustParseSource(reg.Host + "/sdks/{platform}:{flavor}-{version}")
	down := resolver.NewWithRegistry(remoteImages{}, New(fast, WithTimeout(0)).Registry())
	for ref, wantErr := range map[string]bool{"golang@1.23": true, "golang@1.23.4": false} {
		parsed, _ := resolver.ParseRef(ref)
		_, err := down.Resolve(context.Background(), resolver.Request{Ref: parsed, Flavor: "bookworm", Source: src})
		if wantErr && (!errors.Is(err, resolver.ErrListUnavailable) || !errors.Is(err, resolver.ErrUnreachable) ||
			!strings.Contains(err.Error(), `cannot list tags of `+reg.Host+`/sdks/golang to resolve "golang@1.23"`)) {
			t.Errorf("%s: error %v, want ErrListUnavailable and ErrUnreachable", ref, err)
		}
		if !wantErr && err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// The resolver adds an SDK user's advice to the client's errors, by what
// the client says of them (resolver.RegistryError): the registry client
// knows nothing of exact versions or build args.
func TestResolveAdvice(t *testing.T) {
	rangeRef, _ := resolver.ParseRef("golang@^1")
	resolve := func(c *Client, host string) error {
		src := resolver.MustParseSource(host + "/sdks/{platform}:{flavor}-{version}")
		_, err := resolver.NewWithRegistry(remoteImages{}, c.Registry()).Resolve(context.Background(), resolver.Request{Ref: rangeRef, Flavor: "bookworm", Source: src, Target: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
		return err
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) error
		want string
	}{
		{"listing limit", func(t *testing.T) error {
			f := newFaultFixture(t)
			f.proxy.always(tagsList, serveTags("sdks/golang", manyTags(50), 50))
			return resolve(New(fast, withLimits(0, 10)), f.proxy.host)
		}, "lists more than 10 tags; use an exact version, such as golang@1.23.4, which resolves without listing tags"},
		{"listing denied, anonymous", func(t *testing.T) error {
			f := newFaultFixture(t)
			f.proxy.always(tagsList, status(403, distError("DENIED", "requested access to the resource is denied")))
			return resolve(New(fast), f.proxy.host)
		}, "requested access to the resource is denied; sdkfront lists tags anonymously, so it needs the tag list to be public; or use an exact version, such as golang@1.23.4, which BuildKit resolves with your registry credentials"},
		{"listing denied, with credentials", func(t *testing.T) error {
			reg := testregistry.New(t, testregistry.Wrap(basicAuth("dev", "pw", new(atomic.Int32))))
			keychain := staticKeychain{reg.Host: {Username: "dev", Password: "wrong"}}
			return resolve(New(fast, WithKeychain(keychain)), reg.Host)
		}, "; check the credentials for {registry}; or use an exact version, such as golang@1.23.4, which resolves without listing tags"},
		{"no listing", func(t *testing.T) error {
			f := newFaultFixture(t)
			f.proxy.always(tagsList, status(404, "404 page not found\n", "Content-Type: text/plain"))
			return resolve(New(fast), f.proxy.host)
		}, "failed with HTTP 404: 404 page not found; version ranges, partial versions, latest and the default without a default tag need the registry to list tags, and it lists none for this repository (or the repository does not exist); use an exact version such as golang@1.23.4, which resolves without listing"},
		{"plain HTTP", func(t *testing.T) error {
			reg := testregistry.New(t)
			_, port, _ := net.SplitHostPort(reg.Host)
			n := newFakeNet().host("sdk-registry.test", "93.184.216.34").route("93.184.216.34")
			return resolve(New(fast, n.option()), "sdk-registry.test:"+port)
		}, "server gave HTTP response to HTTPS client; if the registry is plain HTTP, configure it as insecure (build arg SDK_INSECURE_REGISTRIES)"},
		{"credentials withheld", func(t *testing.T) error {
			ts := &tokenServer{}
			other := httptest.NewServer(ts)
			t.Cleanup(other.Close)
			realm := "http://localhost:" + strings.TrimPrefix(other.URL, "http://127.0.0.1:") + "/token"
			reg := tokenRegistry(t, ts, func(string) string { return realm })
			keychain := staticKeychain{reg.Host: {Username: "dev", Password: "pw"}}
			return resolve(New(fast, WithKeychain(keychain)), reg.Host)
		}, "; sdkfront did not send your credentials for {registry} to the token service it names, http://localhost:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			var re *resolver.RegistryError
			if !errors.As(err, &re) || !errors.Is(err, resolver.ErrListUnavailable) {
				t.Fatalf("error %v, want a RegistryError and ErrListUnavailable", err)
			}
			want := strings.ReplaceAll(tc.want, "{registry}", re.Registry)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %v\nwant one containing %q", err, want)
			}
			if tc.name == "credentials withheld" && !strings.HasSuffix(err.Error(), "as that is on another host; if you trust it with them, name its host in "+CredentialRealmsEnv) {
				t.Errorf("error %v does not name %s", err, CredentialRealmsEnv)
			}
		})
	}
}
