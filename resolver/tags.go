package resolver

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// tagVersion is one version of the requested flavor, as tagged and parsed.
type tagVersion struct {
	raw string
	v   *semver.Version
}

// versions lists the repository and returns the versions of the requested
// flavor, newest first. Tags of other layouts, the default tag and
// unparseable versions are skipped. A flavor without any tag is an
// UnknownFlavorError.
func (j *job) versions(ctx context.Context) ([]tagVersion, error) {
	set, err := j.r.list(ctx, j.src, j.repo, "")
	if err != nil {
		if errors.Is(err, ErrRepositoryNotFound) {
			return nil, &RepositoryNotFoundError{Repository: j.repo, Platform: j.req.Ref.Platform, Err: err, Suggest: j.suggest(ctx)}
		}
		return nil, &ListError{Repository: j.repo, Ref: j.name(), Err: Advise(err)}
	}
	j.listed = true
	vs, seen := set.flavor(j.src, j.flavor(), "")
	if !seen {
		return nil, &UnknownFlavorError{Repository: j.repo, Flavor: j.req.Flavor, Available: set.names()}
	}
	j.others = set.flavors
	return vs, nil
}

// flavor is the requested flavor as a tagSet names it: "" where the
// source's tags have none.
func (j *job) flavor() string {
	if !j.src.flavored {
		return ""
	}
	return j.req.Flavor
}

// newestOf returns the newest listed version satisfying c. Where the
// Registry lists by prefix, it first lists only the tags c's versions
// may have ("bookworm-1.23" for 1.23, "bookworm-" for a range: a page,
// where the whole list may take many); the whole list is read only if
// they hold no match, for the error to say what there is.
func (j *job) newestOf(ctx context.Context, c Constraint) (tagVersion, error) {
	if j.r.reg.Prefixes != nil {
		if prefix := j.src.TagPrefix(j.req.Flavor, c.tagPrefix()); prefix != "" {
			if set, err := j.r.list(ctx, j.src, j.repo, prefix); err == nil {
				vs, _ := set.flavor(j.src, j.flavor(), prefix)
				if tv, err := j.newest(vs, c); err == nil {
					return tv, nil
				}
			}
		}
	}
	vs, err := j.versions(ctx)
	if err != nil {
		return tagVersion{}, err
	}
	return j.newest(vs, c)
}

// sortNewest sorts newest first; equal versions spelled differently order
// by spelling, so the choice is deterministic.
func sortNewest(vs []tagVersion) {
	slices.SortFunc(vs, func(a, b tagVersion) int {
		if c := b.v.Compare(a.v); c != 0 {
			return c
		}
		return strings.Compare(b.raw, a.raw)
	})
}

// newest returns the newest version satisfying c, or a NoMatchError.
func (j *job) newest(vs []tagVersion, c Constraint) (tagVersion, error) {
	for _, tv := range vs {
		if c.Matches(tv.v) {
			return tv, nil
		}
	}
	e := &NoMatchError{
		Platform:   j.req.Ref.Platform,
		Flavor:     j.req.Flavor,
		Constraint: c.Raw,
		Nearest:    nearest(vs, c.anchor(), 5),
	}
	for f, ovs := range j.others {
		if f == j.flavor() {
			continue
		}
		if slices.ContainsFunc(ovs, func(tv tagVersion) bool { return c.Matches(tv.v) }) {
			e.InFlavors = append(e.InFlavors, f)
		}
	}
	sort.Strings(e.InFlavors)
	return tagVersion{}, e
}

// nearest returns up to n versions closest to anchor (the newest ones if
// anchor is nil), newest first. Stable versions are preferred over
// prereleases. vs is sorted newest first.
func nearest(vs []tagVersion, anchor *semver.Version, n int) []string {
	var stable []tagVersion
	for _, tv := range vs {
		if tv.v.Prerelease() == "" {
			stable = append(stable, tv)
		}
	}
	if len(stable) > 0 {
		vs = stable
	}
	if anchor != nil {
		// Rank by distance per component, major first: for 1.99, 1.23.4
		// is nearer than 2.0.0.
		vs = slices.Clone(vs)
		dist := func(tv tagVersion) [3]uint64 {
			return [3]uint64{
				absDiff(tv.v.Major(), anchor.Major()),
				absDiff(tv.v.Minor(), anchor.Minor()),
				absDiff(tv.v.Patch(), anchor.Patch()),
			}
		}
		slices.SortStableFunc(vs, func(a, b tagVersion) int {
			da, db := dist(a), dist(b)
			return slices.Compare(da[:], db[:])
		})
		vs = vs[:min(n, len(vs))]
		slices.SortStableFunc(vs, func(a, b tagVersion) int { return b.v.Compare(a.v) })
	}
	var out []string
	for _, tv := range vs[:min(n, len(vs))] {
		out = append(out, tv.raw)
	}
	return out
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// Suggestions compare the requested platform with a bounded number of
// catalog names, each of bounded length: a registry's catalog may hold
// anything.
const (
	maxSuggestNames = 10_000
	maxSuggestName  = 255
	maxSuggestEdits = 2
)

// suggest lists the platforms the source has whose names are within two
// edits of the requested one, nearest first; none if the registry does not
// list its repositories, or for a reference naming a repository. It
// compares the first maxSuggestNames names, skipping those longer than
// maxSuggestName, and stops when ctx ends.
func (j *job) suggest(ctx context.Context) []string {
	rl := j.r.reg.Catalog
	if rl == nil || j.req.Ref.Repository != "" {
		return nil
	}
	host, _, _ := strings.Cut(j.repo, "/")
	var repos []string
	err := j.r.read(ctx, func(ctx context.Context) (err error) {
		repos, err = rl.ListRepositories(ctx, host)
		return err
	})
	if err != nil {
		return nil
	}
	want := j.req.Ref.Platform
	if len(want) > maxSuggestName {
		return nil
	}
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for i, r := range repos[:min(len(repos), maxSuggestNames)] {
		if i%256 == 0 && ctx.Err() != nil {
			return nil
		}
		if len(r) > len(host)+1+maxSuggestName {
			continue
		}
		p, ok := j.src.MatchRepository(r)
		if !ok || p == want {
			continue
		}
		if d := editDistance(p, want, maxSuggestEdits); d <= maxSuggestEdits {
			cs = append(cs, cand{p, d})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cs[:min(3, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Damerau-Levenshtein distance (adjacent swaps count
// once: golnag -> golang is 1) if it is at most k, and k+1 otherwise. It
// costs O(k·len) time and O(len) memory: names whose lengths differ by
// more than k are not compared, and only the cells within k of the
// diagonal are.
func editDistance(a, b string, k int) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra)-len(rb) > k || len(rb)-len(ra) > k {
		return k + 1
	}
	far := k + 1 // any distance beyond k
	// Three rows: i-2, i-1 and i, of len(rb)+1 cells each.
	rows := [3][]int{make([]int, len(rb)+1), make([]int, len(rb)+1), make([]int, len(rb)+1)}
	for j := range rows[0] {
		rows[0][j] = min(j, far)
	}
	for i := 1; i <= len(ra); i++ {
		prev2, prev, cur := rows[(i+1)%3], rows[(i+2)%3], rows[i%3]
		lo, hi := max(1, i-k), min(len(rb), i+k)
		for j := range cur {
			cur[j] = far
		}
		if i <= k {
			cur[0] = i
		}
		best := cur[0]
		for j := lo; j <= hi; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = min(d, far)
			best = min(best, cur[j])
		}
		if best > k {
			return far
		}
	}
	return min(rows[len(ra)%3][len(rb)], far)
}
