package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

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
