package registry

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdkfront/sdkfront/internal/testregistry"
)

// TestListTagsWithPrefix: the tags that start with a prefix come from the
// pages that hold them, where the registry honours ?last=; where it does
// not, the whole list comes back, with all set.
func TestListTagsWithPrefix(t *testing.T) {
	var want []string
	img := sdkImage(t, false, nil)
	for _, flavor := range []string{"bookworm", "bullseye", "trixie"} {
		for minor := 20; minor < 25; minor++ {
			for patch := range 8 {
				tag := fmt.Sprintf("%s-1.%d.%d", flavor, minor, patch)
				if flavor == "bookworm" && minor == 23 {
					want = append(want, tag)
				}
			}
		}
	}
	for _, c := range []struct {
		name   string
		ignore bool
	}{{"honours last", false}, {"ignores last", true}} {
		t.Run(c.name, func(t *testing.T) {
			var pages atomic.Int32
			wrap := []func(http.Handler) http.Handler{testregistry.Paged(10, &pages)}
			if c.ignore {
				wrap = append([]func(http.Handler) http.Handler{dropLast}, wrap...)
			}
			reg := testregistry.New(t, testregistry.Wrap(wrap...))
			for _, flavor := range []string{"bookworm", "bullseye", "trixie"} {
				for minor := 20; minor < 25; minor++ {
					for patch := range 8 {
						reg.Push(t, fmt.Sprintf("sdks/golang:%s-1.%d.%d", flavor, minor, patch), img)
					}
				}
			}
			pages.Store(0)
			tags, all, err := New().ListTagsWithPrefix(context.Background(), reg.Host+"/sdks/golang", "bookworm-1.23")
			if err != nil {
				t.Fatal(err)
			}
			if all != c.ignore {
				t.Errorf("all = %v, want %v", all, c.ignore)
			}
			if c.ignore {
				if len(tags) != 120 || pages.Load() != 12 {
					t.Errorf("got %d tags in %d pages, want all 120 in 12", len(tags), pages.Load())
				}
				return
			}
			if !slices.Equal(tags, want) {
				t.Errorf("tags = %v, want %v", tags, want)
			}
			if n := pages.Load(); n != 1 {
				t.Errorf("%d pages for 8 tags of a page size of 10, want 1", n)
			}
		})
	}
}

// dropLast is a registry that ignores the ?last= a listing starts with
// (its own Links' still work).
func dropLast(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); strings.HasSuffix(r.URL.Path, "/tags/list") && q.Get("last") == "bookworm-1.22~" {
			q.Del("last")
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}
