package resolver

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
)

// What a build keeps of its tag listings. A registry may list up to
// 500,000 tags in a repository (resolver/registry's limits); a Resolver
// keeps none of them as listed, only the versions a constraint can use,
// parsed, and a bounded number of those, whatever the number of SDK lines.
// Tags of other layouts are skipped at the cost of a string search; only
// those of the layout are matched and parsed, which costs more (some
// microseconds each), so the limits bound the work too.
const (
	// MaxRepositoryVersions bounds the tags of the source's layout
	// ("bookworm-1.23.4", "bookworm-default") one listing may hold; a
	// listing with more fails with a *VersionLimitError. Other tags do not
	// count.
	MaxRepositoryVersions = 50_000
	// MaxBuildVersions bounds the tags of their layouts that a Resolver's
	// listings hold together; a listing that would take it past that
	// fails with a *VersionLimitError. What is kept of a tag takes about
	// 150 bytes, so a Resolver keeps at most about 30 MiB of listings.
	MaxBuildVersions = 200_000
)

// checkEvery is how many tags parsing goes through between checks of its
// context.
const checkEvery = 1024

// listKey names one listing: a repository's tags as a tag layout ("{flavor}-{version}")
// reads them, all of them or those that start with a prefix.
type listKey struct {
	repo, layout, prefix string
}

// listing is one listing, made once per Resolver.
type listing struct {
	done chan struct{} // closed when set and err are
	set  *tagSet
	err  error
}

// tagSet is what a listing keeps: each flavor's versions, newest first.
// Tags of other layouts, default tags and unparseable versions are not
// kept, but a flavor that has any tag is there, with no version if need
// be. A template without {flavor} has one flavor, "".
type tagSet struct {
	flavors map[string][]tagVersion
	entries int // tags of the layout, against the limits
}

// list returns the listing of repo's tags that start with prefix ("" for
// all of them), as src's tag layout reads them, making it at most once per
// Resolver: concurrent callers share one in flight. It runs detached from
// the first caller's cancellation so that it cannot fail the others, as
// one read (in a slot, under the read deadline, parsing included); each
// caller still stops waiting when its own ctx ends. Failures are kept too:
// a Resolver serves one build, which should not hammer a failing registry.
// Once the whole list of a repository is known, it serves every prefix.
func (r *Resolver) list(ctx context.Context, src Source, repo, prefix string) (*tagSet, error) {
	whole := listKey{repo: repo, layout: src.orDefault().tag}
	key := whole
	key.prefix = prefix
	r.mu.Lock()
	if w, ok := r.listings[whole]; ok && prefix != "" && w.finished() && w.err == nil {
		r.mu.Unlock()
		return w.set, nil
	}
	l, ok := r.listings[key]
	if !ok {
		l = &listing{done: make(chan struct{})}
		r.listings[key] = l
		go r.fill(context.WithoutCancel(ctx), l, key, src)
	}
	r.mu.Unlock()
	select {
	case <-l.done:
		return l.set, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listing) finished() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// fill makes listing l of key: lists, parses, and keeps what it may.
func (r *Resolver) fill(ctx context.Context, l *listing, key listKey, src Source) {
	defer close(l.done)
	l.err = r.read(ctx, func(ctx context.Context) error {
		var (
			tags []string
			all  bool
			err  error
		)
		if pl := r.reg.Prefixes; pl == nil || key.prefix == "" {
			tags, err = r.reg.Tags.ListTags(ctx, key.repo)
		} else {
			tags, all, err = pl.ListTagsWithPrefix(ctx, key.repo, key.prefix)
		}
		if err != nil {
			return err
		}
		// What the build has room for bounds the parsing too; another
		// listing may take some of it meanwhile, which is checked below.
		r.mu.Lock()
		room := r.maxBuildEntries - r.kept
		r.mu.Unlock()
		set, err := parseTags(ctx, src, tags, min(r.maxRepoEntries, room))
		if errors.Is(err, errTooMany) && room >= r.maxRepoEntries {
			return &VersionLimitError{Repository: key.repo, Limit: r.maxRepoEntries}
		}
		buildFull := &VersionLimitError{Repository: key.repo, Limit: r.maxBuildEntries, Build: true}
		if errors.Is(err, errTooMany) {
			return buildFull
		}
		if err != nil {
			return err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.kept+set.entries > r.maxBuildEntries {
			return buildFull
		}
		r.kept += set.entries
		l.set = set
		if whole := (listKey{repo: key.repo, layout: key.layout}); all {
			// The registry listed them all: the same set serves the whole.
			if _, ok := r.listings[whole]; !ok {
				r.listings[whole] = l
			}
		}
		return nil
	})
}

// errTooMany is a listing with more tags of its layout than parseTags may
// keep.
var errTooMany = errors.New("too many tags of the layout")

// parseTags keeps what a constraint can use of tags, as src's layout reads
// them: each flavor's versions, newest first. It fails with errTooMany
// when more than limit tags follow the layout, and when ctx ends.
func parseTags(ctx context.Context, src Source, tags []string, limit int) (*tagSet, error) {
	src = src.orDefault()
	could := layoutFilter(src.tag)
	set := &tagSet{flavors: map[string][]tagVersion{}}
	for i, tag := range tags {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if !could(tag) {
			continue
		}
		flavor, version, ok := src.MatchTag(tag)
		if !ok {
			continue
		}
		if set.entries++; set.entries > limit {
			return nil, errTooMany
		}
		vs := set.flavors[flavor]
		if version != defaultTagVersion {
			if v, err := ParseVersion(version); err == nil {
				vs = append(vs, tagVersion{raw: version, v: v})
			}
		}
		set.flavors[flavor] = vs
	}
	for _, vs := range set.flavors {
		sortNewest(vs)
	}
	return set, nil
}

// layoutFilter is a quick test that a tag may follow a tag layout: it
// has the layout's literal text before, between and after the
// placeholders, in order. Most tags that do not follow it fail here,
// without the cost of the layout's regular expression.
func layoutFilter(layout string) func(tag string) bool {
	lits := strings.FieldsFunc(strings.NewReplacer(phFlavor, "\x00", phVersion, "\x00").Replace(layout), func(r rune) bool { return r == 0 })
	head := !strings.HasPrefix(layout, "{")
	tail := !strings.HasSuffix(layout, "}")
	return func(tag string) bool {
		rest := tag
		for i, lit := range lits {
			switch {
			case i == 0 && head:
				if !strings.HasPrefix(rest, lit) {
					return false
				}
				rest = rest[len(lit):]
			case i == len(lits)-1 && tail:
				return strings.HasSuffix(rest, lit)
			default:
				j := strings.Index(rest, lit)
				if j < 0 {
					return false
				}
				rest = rest[j+len(lit):]
			}
		}
		return true
	}
}

// flavor is the versions of a flavor with a prefix to their tags (all of
// them for ""), newest first; seen says whether the flavor has any tag.
func (s *tagSet) flavor(src Source, flavor, prefix string) (vs []tagVersion, seen bool) {
	vs, seen = s.flavors[flavor]
	if prefix == "" {
		return vs, seen
	}
	return slices.DeleteFunc(slices.Clone(vs), func(tv tagVersion) bool {
		return !strings.HasPrefix(src.Tag(flavor, tv.raw), prefix)
	}), seen
}

// names are the flavors that have a tag, sorted.
func (s *tagSet) names() []string { return slices.Sorted(maps.Keys(s.flavors)) }
