package resolver

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// prefixTags is fakeTags that also lists by prefix, and records how.
type prefixTags struct {
	*fakeTags
	mu       sync.Mutex
	prefixes []string
}

func (p *prefixTags) ListTagsWithPrefix(ctx context.Context, repo, prefix string) ([]string, bool, error) {
	p.mu.Lock()
	p.prefixes = append(p.prefixes, prefix)
	p.mu.Unlock()
	var out []string
	for _, t := range p.tags[repo] {
		if strings.HasPrefix(t, prefix) {
			out = append(out, t)
		}
	}
	return out, false, nil
}

func TestPartialVersionsListOnlyTheirPrefix(t *testing.T) {
	images, tags := fixture()
	pt := &prefixTags{fakeTags: tags}
	r := New(images, pt)
	for _, c := range []struct{ ref, version, prefix string }{
		{"golang@1.22", "1.22.10", "bookworm-1.22"},
		{"golang@latest", "1.23.4", "bookworm-"},
		{"golang@~1.22", "1.22.10", "bookworm-"},
	} {
		ref, _ := ParseRef(c.ref)
		res, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource, Target: amd64})
		if err != nil || res.Version != c.version {
			t.Errorf("%s: %+v, %v; want %s", c.ref, res, err, c.version)
		}
		if !strings.Contains(strings.Join(pt.prefixes, " "), c.prefix) {
			t.Errorf("%s: listed prefixes %q, want %q", c.ref, pt.prefixes, c.prefix)
		}
	}
	if n := tags.count(testRegistry + "golang"); n != 0 {
		t.Errorf("the whole tag list was read %d times, want none", n)
	}
	// No match in the prefix's tags: the whole list says what there is.
	ref, _ := ParseRef("golang@1.99")
	_, err := r.Resolve(context.Background(), Request{Ref: ref, Flavor: "bookworm", Source: testSource, Target: amd64})
	if err == nil || !strings.Contains(err.Error(), "nearest available: 1.23.4") {
		t.Errorf("error %v, want the nearest versions from the whole list", err)
	}
	if n := tags.count(testRegistry + "golang"); n != 1 {
		t.Errorf("the whole tag list was read %d times after a miss, want once", n)
	}
}
