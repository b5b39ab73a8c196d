package resolver

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// listing is one repository's tag list, fetched once per Resolver.
type listing struct {
	done chan struct{} // closed when tags and err are set
	tags []string
	err  error
}

// listTags lists a repository's tags at most once per Resolver; concurrent
// callers share the in-flight listing. The listing runs detached from the
// first caller's cancellation so that it cannot fail the others (the
// TagLister bounds it with its own timeout); each caller still stops
// waiting when its own ctx ends. Failures are cached too: a Resolver serves
// one build, which should not hammer a failing registry.
func (r *Resolver) listTags(ctx context.Context, repo string) ([]string, error) {
	r.mu.Lock()
	l, ok := r.listings[repo]
	if !ok {
		l = &listing{done: make(chan struct{})}
		r.listings[repo] = l
		go func(ctx context.Context) {
			defer close(l.done)
			l.tags, l.err = r.tags.ListTags(ctx, repo)
		}(context.WithoutCancel(ctx))
	}
	r.mu.Unlock()
	select {
	case <-l.done:
		return l.tags, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

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
	tags, err := j.r.listTags(ctx, j.repo)
	if err != nil {
		if errors.Is(err, ErrRepositoryNotFound) {
			return nil, &RepositoryNotFoundError{Repository: j.repo, Platform: j.req.Ref.Platform, Err: err}
		}
		return nil, &ListError{Repository: j.repo, Ref: j.name(), Err: err}
	}
	j.listed = true
	var (
		vs      []tagVersion
		seen    bool
		flavors = map[string]bool{}
	)
	for _, tag := range tags {
		flavor, version, ok := j.src.MatchTag(tag)
		if !ok {
			continue
		}
		flavors[flavor] = true
		if j.src.flavored && flavor != j.req.Flavor {
			continue
		}
		seen = true
		if version == defaultTagVersion {
			continue
		}
		if v, err := ParseVersion(version); err == nil {
			vs = append(vs, tagVersion{raw: version, v: v})
		}
	}
	if !seen {
		e := &UnknownFlavorError{Repository: j.repo, Flavor: j.req.Flavor}
		for f := range flavors {
			e.Available = append(e.Available, f)
		}
		sort.Strings(e.Available)
		return nil, e
	}
	// Newest first; equal versions spelled differently order by spelling,
	// so the choice is deterministic.
	slices.SortFunc(vs, func(a, b tagVersion) int {
		if c := b.v.Compare(a.v); c != 0 {
			return c
		}
		return strings.Compare(b.raw, a.raw)
	})
	return vs, nil
}

// newest returns the newest version satisfying c, or a NoMatchError.
func (j *job) newest(vs []tagVersion, c Constraint) (tagVersion, error) {
	for _, tv := range vs {
		if c.Matches(tv.v) {
			return tv, nil
		}
	}
	return tagVersion{}, &NoMatchError{
		Platform:   j.req.Ref.Platform,
		Flavor:     j.req.Flavor,
		Constraint: c.Raw,
		Nearest:    nearest(vs, c.anchor(), 5),
	}
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
