package lock

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

var (
	amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispecs.Platform{OS: "linux", Architecture: "arm64"}
)

func wantOf(t *testing.T, ref string) Want {
	t.Helper()
	r, err := resolver.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return Want{Ref: r, Source: resolver.MustParseSource(source)}
}

func TestWantKey(t *testing.T) {
	w := wantOf(t, "python@3.11")
	if got, want := w.Key("bullseye"), (Key{Ref: "python@3.11", Flavor: "bullseye", Source: source}); got != want {
		t.Errorf("Key = %v, want %v", got, want)
	}
	// A version file's constraint is part of the key; the reference is
	// as written.
	w.Ref.Raw, w.FromFile = "python@file:.python-version", true
	if got, want := w.Key("bookworm"), (Key{Ref: "python@file:.python-version", Flavor: "bookworm", Source: source, Constraint: "3.11"}); got != want {
		t.Errorf("Key = %v, want %v", got, want)
	}
	// The zero source is the default one, as the build's.
	if got := (Want{Ref: w.Ref}).Key("bookworm").Source; got != resolver.DefaultSourceTemplate {
		t.Errorf("source %q", got)
	}
}

// Needs groups lines by key, in order: platforms and lines once each.
func TestNeeds(t *testing.T) {
	g, n := wantOf(t, "golang@1.23"), wantOf(t, "nodejs@20")
	needs := Needs([]Use{
		{Want: g, Flavor: "bookworm", Platform: amd64, Line: 3},
		{Want: n, Flavor: "bullseye", Fallback: "bookworm", Base: "debian:bullseye", Platform: amd64, Line: 4},
		{Want: g, Flavor: "bookworm", Platform: arm64, Line: 3},
		{Want: g, Flavor: "bookworm", Platform: amd64, Line: 7},
		{Want: g, Flavor: "bullseye", Platform: amd64, Line: 9},
	})
	var got []string
	for _, n := range needs {
		var ps []string
		for _, p := range n.Platforms {
			ps = append(ps, PlatformKey(p))
		}
		got = append(got, fmt.Sprintf("%s %s %v %v fallback=%s base=%s", n.Key.Ref, n.Key.Flavor, ps, n.Lines, n.Fallback, n.Base))
	}
	want := []string{
		"golang@1.23 bookworm [linux/amd64 linux/arm64] [3 7] fallback= base=",
		"nodejs@20 bullseye [linux/amd64] [4] fallback=bookworm base=debian:bullseye",
		"golang@1.23 bullseye [linux/amd64] [9] fallback= base=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Needs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFits(t *testing.T) {
	k := func(flavor string) Key { return Key{Ref: "nodejs@20", Flavor: flavor, Source: source} }
	detected := &Need{Key: k("bullseye"), Fallback: "bookworm"}
	unknown := &Need{Key: k("")}
	plain := &Need{Key: k("bookworm")}
	for _, tc := range []struct {
		n    *Need
		k    Key
		fits bool
	}{
		{detected, k("bullseye"), true},
		{detected, k("bookworm"), true},
		{detected, k("trixie"), false},
		{unknown, k("trixie"), true},
		{plain, k("bookworm"), true},
		{plain, k("bullseye"), false},
		{plain, Key{Ref: "nodejs@20", Flavor: "bookworm", Source: resolver.DefaultSourceTemplate}, false},
		{plain, Key{Ref: "nodejs@20", Flavor: "bookworm", Source: source, Constraint: "20"}, false},
		{plain, Key{Ref: "nodejs@22", Flavor: "bookworm", Source: source}, false},
	} {
		if got := tc.n.Fits(tc.k); got != tc.fits {
			t.Errorf("%v fits %v: %v, want %v", tc.n.Key, tc.k, got, tc.fits)
		}
	}
}

func TestCompare(t *testing.T) {
	f := sample() // golang@1.23 for amd64 and arm64; nodejs; python bookworm and bullseye
	dt := f.Marshal()
	need := func(ref, flavor string, ps ...ocispecs.Platform) *Need {
		return &Need{Key: Key{Ref: ref, Flavor: flavor, Source: source}, Platforms: ps, Lines: []int{len(ref)}}
	}
	all := []*Need{need("golang@1.23", "bookworm", amd64, arm64), need("nodejs@>=20 <22", "bookworm", amd64),
		need("python@3.11", "bookworm", amd64), need("python@3.11", "bullseye", amd64)}
	if st := Compare(f, dt, all); !st.UpToDate() || len(st.Kept) != 4 {
		t.Errorf("up to date: %+v", st)
	}
	if st := Compare(f, append([]byte(" "), dt...), all); st.UpToDate() || !st.Reformatted || len(st.Findings) != 0 {
		t.Errorf("reformatted: %+v", st)
	}

	s390x := ocispecs.Platform{OS: "linux", Architecture: "s390x"}
	st := Compare(f, dt, []*Need{need("golang@1.23", "bookworm", amd64, s390x), need("golang@1.22", "bookworm", amd64), need("python@3.11", "", amd64)})
	var got []string
	for _, fd := range st.Findings {
		switch {
		case fd.Need == nil:
			got = append(got, "unused "+fd.Entry.Ref+" "+fd.Entry.Flavor)
		case fd.Entry == nil:
			got = append(got, "unlocked "+fd.Need.Key.Ref)
		default:
			got = append(got, fmt.Sprintf("incomplete %s %s %v", fd.Need.Key.Ref, fd.Entry.Version, fd.Missing))
		}
	}
	want := []string{"incomplete golang@1.23 1.23.4 [linux/s390x]", "unlocked golang@1.22", "unused nodejs@>=20 <22 bookworm"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || st.UpToDate() || st.Reformatted {
		t.Errorf("findings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An unknown flavor is pinned by any of the ref's entries: both
	// python entries are kept.
	if len(st.Kept) != 3 {
		t.Errorf("kept %d entries, want 3", len(st.Kept))
	}
}

// merge joins changes that ended on one key; a different digest there is
// a conflict at the line.
func TestMerge(t *testing.T) {
	e := func(d string, p string) Entry {
		return entry("nodejs@20", "bookworm", "20.11.1", dg(d), map[string]digest.Digest{p: dg(d)})
	}
	k := Key{Ref: "nodejs@20", Flavor: "bookworm", Source: source}
	a := &Change{Need: &Need{Key: k, Platforms: []ocispecs.Platform{amd64}, Lines: []int{4}}, Entry: e("a", "linux/amd64")}
	b := &Change{Need: &Need{Key: k, Platforms: []ocispecs.Platform{arm64}, Lines: []int{9}}, Entry: e("a", "linux/arm64"),
		Fallbacks: []Fallback{{Lines: []int{9}, Base: "debian:trixie", Detected: "trixie", Flavor: "bookworm"}}}
	out, err := merge([]*Change{a, b})
	if err != nil || len(out) != 1 {
		t.Fatalf("merge: %v, %d changes", err, len(out))
	}
	if m := out[0]; len(m.Entry.Platforms) != 2 || fmt.Sprint(m.Lines) != "[4 9]" || len(m.Platforms) != 2 || len(m.Fallbacks) != 1 {
		t.Errorf("merged %+v", m)
	}

	c := &Change{Need: &Need{Key: k, Lines: []int{12}}, Entry: e("c", "linux/amd64")}
	_, err = merge([]*Change{a, c})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Line != 12 || !strings.Contains(err.Error(), "SDK nodejs@20: resolves to 20.11.1 ("+string(dg("c"))+") here but to 20.11.1 ("+string(dg("a"))+") at line 4; try again") {
		t.Errorf("conflict: %v", err)
	}
}

func TestKindAndResult(t *testing.T) {
	old := sample()
	bad := &InvalidEntriesError{Entries: []*EntryError{
		{Key: Key{Ref: "golang@1.22", Flavor: "bookworm", Source: source}, Problems: []Problem{{Field: "version", Value: "x\"", What: "is not a version"}}},
		{Key: Key{Ref: "ruby@3", Flavor: "bookworm", Source: source}, Problems: []Problem{{Field: "tag", Value: "x", What: "is not the one"}}},
	}}
	g, _ := old.Lookup(Key{Ref: "golang@1.23", Flavor: "bookworm", Source: source})
	changed := func(edit func(e *Entry)) Entry {
		e := g
		e.Platforms = map[string]digest.Digest{"linux/amd64": g.Platforms["linux/amd64"], "linux/arm64": g.Platforms["linux/arm64"]}
		edit(&e)
		return e
	}
	for _, tc := range []struct {
		c    *Change
		kind Kind
	}{
		{&Change{Entry: g}, Added},
		{&Change{Entry: g, Bad: bad.Entries[0]}, Replaced},
		{&Change{Entry: changed(func(e *Entry) { e.Version, e.Digest = "1.23.5", dg("5") }), Old: &g}, Updated},
		{&Change{Entry: changed(func(e *Entry) { e.Digest = dg("5") }), Old: &g}, Moved},
		{&Change{Entry: changed(func(e *Entry) { e.Platforms["linux/s390x"] = dg("5") }), Old: &g, Added: []string{"linux/s390x"}}, Extended},
		{&Change{Entry: changed(func(e *Entry) { e.Platforms["linux/amd64"] = dg("5") }), Old: &g}, Remanifested},
		{&Change{Entry: g, Old: &g}, Unchanged},
	} {
		if got := tc.c.Kind(); got != tc.kind {
			t.Errorf("%+v: kind %d, want %d", tc.c, got, tc.kind)
		}
	}

	kept := &Change{Need: &Need{Key: g.Key}, Entry: g}
	replaced := &Change{Need: &Need{Key: bad.Entries[0].Key}, Entry: entry("golang@1.22", "bookworm", "1.22.10", dg("1"), map[string]digest.Digest{"linux/amd64": dg("1")})}
	f, removed, removedBad := Result(old, bad, []*Change{kept, replaced})
	if len(f.SDKs) != 2 || len(removed) != 3 || removed[0].Ref != "nodejs@>=20 <22" || len(removedBad) != 1 || removedBad[0].Key.Ref != "ruby@3" {
		t.Errorf("Result: %d entries, removed %v, removed invalid %v", len(f.SDKs), removed, removedBad)
	}
}
