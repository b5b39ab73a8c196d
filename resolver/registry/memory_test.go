package registry

import (
	"context"
	"net/http"
	"runtime/debug"
	"testing"
	"time"

	"github.com/sdkfront/sdkfront/internal/heapmeasure"
)

// TestListTagsMemory lists 200,000 tags, in 200 pages of 1,000 and in one
// page (a registry that ignores n=), and bounds the heap it takes: the peak
// while listing and what the result retains, both above the heap before.
// The raw pages are never held together: each page is decoded as it
// arrives. Run with -v for the figures.
func TestListTagsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("lists 200,000 tags")
	}
	const n = 200_000
	tags := manyTags(n)
	for _, tc := range []struct {
		name     string
		perPage  int
		gc       int    // GOGC while listing; at 10 the peak is close to the live heap
		maxPeak  uint64 // bytes above the heap before listing
		maxAfter uint64
	}{
		{"200 pages", 1000, 100, 48 << 20, 16 << 20},
		{"one page", n, 100, 64 << 20, 16 << 20},
		{"200 pages, GOGC=10", 1000, 10, 32 << 20, 16 << 20},
		{"one page, GOGC=10", n, 10, 40 << 20, 16 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFaultProxy(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/" {
					http.NotFound(w, r)
				}
			}))
			serve := serveTags("sdks/golang", tags, tc.perPage)
			prebuild(serve, tc.perPage)
			p.always(tagsList, serve)
			// Page size 0 sends no n=: the registry decides, and sends all.
			// The deadlines are so generous that a busy machine meets none:
			// the listing must succeed, and its memory is the verdict.
			c := New(WithPageSize(tc.perPage%n), WithTimeout(10*time.Minute), WithRequestTimeout(2*time.Minute))

			defer debug.SetGCPercent(debug.SetGCPercent(tc.gc))
			m := heapmeasure.Run(func() any {
				got, err := c.ListTags(context.Background(), p.host+"/sdks/golang")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != n {
					t.Fatalf("%d tags, want %d", len(got), n)
				}
				return got
			})
			t.Logf("%d tags, %s: peak heap +%.1f MiB, retained +%.1f MiB, allocated %.1f MiB in total, %d requests",
				n, tc.name, heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Retained), heapmeasure.MiB(m.Total), p.count(tagsList))
			if m.Peak > tc.maxPeak || m.Retained > tc.maxAfter {
				t.Errorf("peak +%.1f MiB (max %.1f), retained +%.1f MiB (max %.1f)", heapmeasure.MiB(m.Peak), heapmeasure.MiB(tc.maxPeak), heapmeasure.MiB(m.Retained), heapmeasure.MiB(tc.maxAfter))
			}
		})
	}
}
