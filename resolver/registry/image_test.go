package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

var (
	linuxAMD64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	linuxARM64 = ocispecs.Platform{OS: "linux", Architecture: "arm64"}
)

func TestResolvePlatform(t *testing.T) {
	reg := testregistry.New(t)
	c := New()
	ctx := context.Background()
	for _, oci := range []bool{true, false} {
		img := sdkImage(t, oci, map[string]string{"x": "y"})
		idx := sdkIndex(t, oci, "linux/amd64", "linux/arm64/v8", "linux/arm/v6")
		reg.Push(t, "sdks/golang:image", img)
		reg.Push(t, "sdks/golang:index", idx)

		// A single image, whatever platform is asked for.
		imgDigest, _ := img.Digest()
		wantCfg, _ := img.RawConfigFile()
		for _, p := range []ocispecs.Platform{linuxAMD64, {OS: "linux", Architecture: "s390x"}} {
			got, err := c.ResolvePlatform(ctx, reg.Host+"/sdks/golang:image", p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest.String() != imgDigest.String() || got.Manifest != got.Digest || string(got.Config) != string(wantCfg) {
				t.Errorf("image for %v: %+v; want digest %s and its config", p, got, imgDigest)
			}
		}

		// An index: its digest, and the platform's manifest and config.
		idxDigest, _ := idx.Digest()
		im, _ := idx.IndexManifest()
		for _, tc := range []struct {
			p    ocispecs.Platform
			want v1.Hash
		}{
			{linuxAMD64, im.Manifests[0].Digest},
			{linuxARM64, im.Manifests[1].Digest}, // arm64 matches arm64/v8
			{ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, im.Manifests[2].Digest}, // v7 runs v6
		} {
			for _, ref := range []string{reg.Host + "/sdks/golang:index", reg.Host + "/sdks/golang@" + idxDigest.String()} {
				got, err := c.ResolvePlatform(ctx, ref, tc.p)
				if err != nil {
					t.Fatal(err)
				}
				child, _ := idx.Image(tc.want)
				cfg, _ := child.RawConfigFile()
				if got.Digest.String() != idxDigest.String() || got.Manifest.String() != tc.want.String() || string(got.Config) != string(cfg) {
					t.Errorf("%s for %v: digest %s manifest %s; want %s and %s", ref, tc.p, got.Digest, got.Manifest, idxDigest, tc.want)
				}
				d, cfg2, err := c.ResolveImage(ctx, ref, tc.p, "")
				if err != nil || d != got.Digest || string(cfg2) != string(cfg) {
					t.Errorf("ResolveImage(%s, %v) = %s, %v", ref, tc.p, d, err)
				}
			}
		}
	}
}

func TestResolvePlatformErrors(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:index", sdkIndex(t, true, "linux/amd64", "linux/arm64"))
	reg.PushManifest(t, "sdks/golang", "old", string(types.DockerManifestSchema1Signed),
		[]byte(`{"schemaVersion":1,"name":"sdks/golang","tag":"old","fsLayers":[],"history":[]}`))
	c := New()
	for _, tc := range []struct {
		ref string
		p   ocispecs.Platform
		is  error
		msg string
	}{
		{reg.Host + "/sdks/golang:index", ocispecs.Platform{OS: "linux", Architecture: "s390x"}, resolver.ErrNotFound,
			reg.Host + "/sdks/golang:index has no image for platform linux/s390x: not found (its index has linux/amd64, linux/arm64)"},
		{reg.Host + "/sdks/golang:missing", linuxAMD64, resolver.ErrNotFound, "no such manifest in registry " + reg.Host},
		{reg.Host + "/sdks/nope:x", linuxAMD64, resolver.ErrRepositoryNotFound, "no such repository"},
		{reg.Host + "/sdks/golang:old", linuxAMD64, resolver.ErrInvalidImage, "is a Docker schema 1 manifest"},
		{"UPPER/case:x", linuxAMD64, nil, "invalid image reference"},
	} {
		_, err := c.ResolvePlatform(context.Background(), tc.ref, tc.p)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ResolvePlatform(%s, %v) error %v\nwant %v containing %q", tc.ref, tc.p, err, tc.is, tc.msg)
		}
		if tc.is == resolver.ErrNotFound && !resolver.IsNotFound(err) {
			t.Errorf("ResolvePlatform(%s): resolver.IsNotFound(%v) = false", tc.ref, err)
		}
	}
}

// basicAuth demands HTTP basic auth with user:pass, as a self-hosted
// distribution registry configured with htpasswd does.
func basicAuth(user, pass string, authorized *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			authorized.Add(1)
			next.ServeHTTP(w, r)
		})
	}
}

type staticKeychain map[string]authn.AuthConfig

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// WithKeychain applies to image resolution and tag listing alike, so a
// resolver built on one client resolves ranges in a private registry.
func TestResolvePlatformKeychain(t *testing.T) {
	var authorized atomic.Int32
	reg := testregistry.New(t, testregistry.Wrap(basicAuth("dev", "pw", &authorized)))
	ref, err := name.ParseReference(reg.Host + "/sdks/golang:bookworm-1.23.4")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, sdkIndex(t, true, "linux/amd64", "linux/arm64"), remote.WithAuth(&authn.Basic{Username: "dev", Password: "pw"})); err != nil {
		t.Fatal(err)
	}
	open := New(WithKeychain(staticKeychain{reg.Host: {Username: "dev", Password: "pw"}}))

	r := resolver.NewWithRegistry(open, open.Registry())
	sdk, _ := resolver.ParseRef("golang@1.23")
	src := resolver.MustParseSource(reg.Host + "/sdks/{platform}:{flavor}-{version}")
	res, err := r.Resolve(context.Background(), resolver.Request{Ref: sdk, Flavor: "bookworm", Source: src, Target: linuxARM64})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "1.23.4" || res.Digest == "" || len(res.Platforms) != 2 {
		t.Errorf("resolution %+v", res)
	}
	if authorized.Load() == 0 {
		t.Error("no request carried credentials")
	}

	_, err = New().ResolvePlatform(context.Background(), reg.Host+"/sdks/golang:bookworm-1.23.4", linuxAMD64)
	if !errors.Is(err, resolver.ErrDenied) || !strings.Contains(err.Error(), "access denied by registry "+reg.Host) {
		t.Errorf("anonymous: %v; want access denied", err)
	}
	_, err = New(WithKeychain(staticKeychain{reg.Host: {Username: "dev", Password: "wrong"}})).ListTags(context.Background(), reg.Host+"/sdks/golang")
	if !errors.Is(err, resolver.ErrDenied) {
		t.Errorf("wrong password: %v; want access denied", err)
	}
}
