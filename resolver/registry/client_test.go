package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sdkfront/sdkfront/resolver"

	"github.com/sdkfront/sdkfront/internal/testregistry"
)

var fast = WithRetries(2, time.Millisecond)

func TestListTagsPaged(t *testing.T) {
	var pages atomic.Int32
	reg := testregistry.New(t, testregistry.Wrap(testregistry.Paged(2, &pages)))
	want := []string{"bookworm-1.22.10", "bookworm-1.23.4", "bookworm-default", "bullseye-1.21.0", "bullseye-1.23.4"}
	for i, tag := range want {
		reg.Push(t, "sdks/golang:"+tag, sdkImage(t, i%2 == 0, nil))
	}
	pages.Store(0)
	tags, err := New().ListTags(context.Background(), reg.Host+"/sdks/golang")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	if n := pages.Load(); n != 3 {
		t.Errorf("%d page requests, want 3", n)
	}
}

func TestListTagsBearer(t *testing.T) {
	var tokens, authorized atomic.Int32
	reg := testregistry.New(t, testregistry.Wrap(testregistry.TokenService(false, &tokens, &authorized)))
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, true, nil))
	tokens.Store(0)
	authorized.Store(0)

	tags, err := New().ListTags(context.Background(), reg.Host+"/sdks/golang")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tags) != "[bookworm-1.23.4]" {
		t.Errorf("tags = %v", tags)
	}
	if tokens.Load() == 0 || authorized.Load() == 0 {
		t.Errorf("token issued %d times, used %d times; want both > 0", tokens.Load(), authorized.Load())
	}
}

func TestListTagsErrors(t *testing.T) {
	var tokens, authorized atomic.Int32
	open := testregistry.New(t)
	open.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	locked := testregistry.New(t, testregistry.Wrap(testregistry.TokenService(true, &tokens, &authorized)))
	forbidden := testregistry.New(t, testregistry.Wrap(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return // no auth needed to ping
			}
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
		})
	}))
	hanging := testregistry.New(t, testregistry.Wrap(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	}))
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name, repo string
		opts       []Option
		is         error
		msg        string
	}{
		{"404", open.Host + "/sdks/nope", nil, resolver.ErrRepositoryNotFound,
			"cannot list tags of " + open.Host + "/sdks/nope: no such repository in registry " + open.Host},
		{"401", locked.Host + "/sdks/golang", nil, resolver.ErrDenied, "access denied by registry " + locked.Host},
		{"403", forbidden.Host + "/sdks/golang", nil, resolver.ErrDenied, "requested access to the resource is denied"},
		{"refused", refused + "/sdks/golang", []Option{fast}, resolver.ErrUnreachable, "registry " + refused + " is unreachable"},
		{"timeout", hanging.Host + "/sdks/golang", []Option{WithTimeout(200 * time.Millisecond)}, resolver.ErrUnreachable,
			"registry " + hanging.Host + " did not answer within 200ms"},
		{"dns", "sdk-registry.invalid/sdks/golang", []Option{fast}, resolver.ErrUnreachable, "registry sdk-registry.invalid is unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts...).ListTags(context.Background(), tc.repo)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q\nwant %v containing %q", err, tc.is, tc.msg)
			}
		})
	}
}

// A registry failing with 500 is retried a bounded number of times and
// then reported unreachable.
func TestListTagsRetriesBounded(t *testing.T) {
	var requests atomic.Int32
	reg := testregistry.New(t, testregistry.Wrap(func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		})
	}))
	// The bound is the number of requests, not the time they take.
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"fast", []Option{fast}},
		{"defaults", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			_, err := New(tc.opts...).ListTags(context.Background(), reg.Host+"/sdks/golang")
			if !errors.Is(err, resolver.ErrUnreachable) {
				t.Errorf("error %v, want ErrUnreachable", err)
			}
			if n := requests.Load(); n != 3 {
				t.Errorf("%d requests, want 3 (2 retries)", n)
			}
		})
	}
}

// The caller cancelling is reported as such, not as a registry failure.
func TestListTagsCancelled(t *testing.T) {
	reg := testregistry.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().ListTags(ctx, reg.Host+"/sdks/golang")
	if !errors.Is(err, context.Canceled) || errors.Is(err, resolver.ErrUnreachable) {
		t.Errorf("error %v, want context.Canceled only", err)
	}
}

func TestPlainHTTP(t *testing.T) {
	c := New(WithInsecureRegistries([]string{"reg.internal:5000", "other.internal"}))
	for host, want := range map[string]bool{
		"127.0.0.1:5000":     true,
		"127.1.2.3":          true,
		"[::1]:5000":         true,
		"localhost:5000":     true,
		"localhost":          true,
		"reg.internal:5000":  true,
		"reg.internal:5001":  false,
		"other.internal:443": true,
		"10.0.0.1:5000":      false,
		"192.168.1.1":        false,
		"mcr.microsoft.com":  false,
		"localhost.evil.com": false,
	} {
		if got := c.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}

// A registry not on loopback is used over plain HTTP only when configured
// as insecure. The test registry is reached under made-up names and
// addresses through a made-up network.
func TestInsecureRegistries(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	dial := newFakeNet().host("sdk-registry.test", "93.184.216.34").route("93.184.216.34", "10.1.2.3").option()
	_, port, _ := net.SplitHostPort(reg.Host)
	named, private := "sdk-registry.test:"+port, "10.1.2.3:"+port

	for _, tc := range []struct {
		host  string
		opts  []Option
		msg   string // error wanted, if any
		cause resolver.RegistryCause
	}{
		{named, nil, "server gave HTTP response to HTTPS client; if the registry is plain HTTP, configure it as insecure", resolver.CausePlainHTTP},
		// ggcr would fall back to plain HTTP for a private address.
		{private, nil, "refusing plain HTTP to " + private, resolver.CauseNone},
		{named, []Option{WithInsecureRegistries([]string{named})}, "", resolver.CauseNone},
		{private, []Option{WithInsecureRegistries([]string{"10.1.2.3"})}, "", resolver.CauseNone},
	} {
		tags, err := New(append(tc.opts, dial, fast)...).ListTags(context.Background(), tc.host+"/sdks/golang")
		switch {
		case tc.msg == "" && (err != nil || fmt.Sprint(tags) != "[bookworm-1.23.4]"):
			t.Errorf("%s %d options: %v, %v", tc.host, len(tc.opts), tags, err)
		case tc.msg != "" && (!errors.Is(err, resolver.ErrUnreachable) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: error %v\nwant ErrUnreachable containing %q", tc.host, err, tc.msg)
		}
		var re *resolver.RegistryError
		if tc.msg != "" && (!errors.As(err, &re) || re.Cause != tc.cause) {
			t.Errorf("%s: error %v (%T): want a RegistryError of cause %v", tc.host, err, err, tc.cause)
		}
	}
}

func TestPlatformDigests(t *testing.T) {
	reg := testregistry.New(t)
	c := New()
	for _, oci := range []bool{true, false} {
		t.Run(fmt.Sprintf("oci=%v", oci), func(t *testing.T) {
			idx := sdkIndex(t, oci, "linux/amd64", "linux/arm64", "linux/arm/v7")
			reg.Push(t, fmt.Sprintf("sdks/golang:index-%v", oci), idx)
			reg.Push(t, fmt.Sprintf("sdks/golang:image-%v", oci), sdkImage(t, oci, nil))

			got, err := c.PlatformDigests(context.Background(), fmt.Sprintf("%s/sdks/golang:index-%v", reg.Host, oci))
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			want := map[string]string{}
			for _, m := range im.Manifests[:3] {
				want[m.Platform.OS+"/"+m.Platform.Architecture+strings.TrimSuffix("/"+m.Platform.Variant, "/")] = m.Digest.String()
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			d, _ := idx.Digest()
			if got, err := c.PlatformDigests(context.Background(), reg.Host+"/sdks/golang@"+d.String()); err != nil || len(got) != 3 {
				t.Errorf("by digest: %v, %v", got, err)
			}

			got, err = c.PlatformDigests(context.Background(), fmt.Sprintf("%s/sdks/golang:image-%v", reg.Host, oci))
			if err != nil || got != nil {
				t.Errorf("single manifest: %v, %v; want nil, nil", got, err)
			}
		})
	}
}

func TestPlatformDigestsErrors(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	reg.PushManifest(t, "sdks/golang", "old", string(types.DockerManifestSchema1Signed),
		[]byte(`{"schemaVersion":1,"name":"sdks/golang","tag":"old","fsLayers":[],"history":[]}`))

	for _, tc := range []struct {
		ref string
		is  error
		msg string
	}{
		{reg.Host + "/sdks/golang:old", resolver.ErrInvalidImage,
			reg.Host + "/sdks/golang:old is a Docker schema 1 manifest, which sdkfront does not support"},
		{reg.Host + "/sdks/golang:missing", resolver.ErrNotFound, "no such manifest in registry " + reg.Host},
		{reg.Host + "/sdks/nope:x", resolver.ErrRepositoryNotFound, "no such repository"},
	} {
		_, err := New().PlatformDigests(context.Background(), tc.ref)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("PlatformDigests(%s) error %q\nwant %v containing %q", tc.ref, err, tc.is, tc.msg)
		}
	}
}

// A registry that does not answer must be reachable from where the client
// reads it: buildkitd's network for the frontend, this machine for
// sdkfront lock. Both ways of not answering say so: connections refused on
// every attempt, and no answer within the call timeout.
func TestUnreachableNamesReader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	stall := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(stall.Close)
	stalled := strings.TrimPrefix(stall.URL, "http://")

	for _, tc := range []struct {
		reader Reader
		opts   []Option
		want   string
	}{
		{ReaderBuildkitd, nil, "reachable from buildkitd"},
		{ReaderBuildkitd, []Option{WithReader(ReaderBuildkitd)}, "reachable from buildkitd"},
		{ReaderLocal, []Option{WithReader(ReaderLocal)}, "reachable from this machine"},
	} {
		for _, host := range []string{refused, stalled} {
			c := New(append(tc.opts, fast, WithTimeout(200*time.Millisecond))...)
			_, err := c.ListTags(context.Background(), host+"/sdks/golang")
			var re *resolver.RegistryError
			if !errors.As(err, &re) || !errors.Is(err, resolver.ErrUnreachable) || !strings.HasSuffix(re.Hint, "check that it is up and "+tc.want+", or try again later") {
				t.Errorf("%v, %s: %v", tc.reader, host, err)
			}
		}
	}
}
