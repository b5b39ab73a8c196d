package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// lock brings the lock up to date, resolving what it must.
func (l *locker) lock(ctx context.Context) int {
	path := l.lockPath()
	for _, name := range l.o.names {
		if !slices.ContainsFunc(l.plan.Needs, func(n plan.Need) bool { return matchesRef(n.SDK.Ref, n.SDK.RefText, name) }) {
			var have []string
			for _, n := range l.plan.Needs {
				if !slices.Contains(have, n.SDK.RefText) {
					have = append(have, n.SDK.RefText)
				}
			}
			fmt.Fprintf(l.stderr, "sdkfront lock: --update %s: no SDK line of %s is %s (its SDKs: %s)\n", name, l.o.file, name, strings.Join(have, ", "))
			return exitUsage
		}
	}
	old, oldData, bad, err := l.readLock()
	if err != nil {
		if !errors.As(err, new(invalidLock)) {
			fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
			return exitError
		}
		if !l.o.update || len(l.o.names) > 0 {
			fmt.Fprintf(l.stderr, "%v\nFix or delete it, or replace it with: sdkfront lock --update\n", err)
			return exitInvalid
		}
		fmt.Fprintf(l.stderr, "%v; --update replaces it\n", err)
		old = nil
	}
	errs := l.detect(ctx, l.flavors)
	if len(errs) > 0 {
		l.printErrors(errs)
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	}
	needs := l.needs()
	if old == nil && len(needs) == 0 {
		fmt.Fprintf(l.stderr, "%s has no SDK lines: nothing to lock\n", l.o.file)
		return exitOK
	}

	changes, err := l.resolve(ctx, old, bad, needs)
	var conflict *lock.ConflictError
	switch {
	case errors.As(err, &conflict):
		l.printErrors([]lineError{{conflict.Line, err.Error()}})
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	case err != nil:
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n%s not written\n", err, path)
		return exitError
	}
	changeErrs, invalid := l.changeErrors(changes)
	if errs = append(errs, changeErrs...); len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b lineError) int { return a.line - b.line })
		l.printErrors(errs)
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		if invalid {
			return exitInvalid
		}
		return exitError
	}
	out, summary := l.report(old, bad, changes)
	data := out.Marshal()
	if bytes.Equal(data, oldData) {
		fmt.Fprintf(l.stderr, "%s is up to date (%s)\n", path, summary)
		fmt.Fprintln(l.stdout, path)
		return exitOK
	}
	if err := writeAtomic(path, data); err != nil {
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	}
	fmt.Fprintf(l.stderr, "wrote %s (%s)\n", path, summary)
	fmt.Fprintln(l.stdout, path)
	return exitOK
}

// resolve locks needs against old (lock.Locker): the changes, each with
// its error; a *lock.ConflictError if two ended on one key with different
// digests.
func (l *locker) resolve(ctx context.Context, old *lock.File, bad *lock.InvalidEntriesError, needs []*lock.Need) ([]*lock.Change, error) {
	client := l.flavors.client
	imgs := &images{c: client, manifests: map[imageKey]registry.PlatformImage{}}
	lk := &lock.Locker{Update: l.updating}
	changes := lk.Plan(old, bad, needs)
	if todo := len(slices.DeleteFunc(slices.Clone(changes), func(c *lock.Change) bool { return !lk.Resolves(c) })); todo > 0 {
		fmt.Fprintf(l.stderr, "resolving %s for %s\n", plural(todo, "SDK"), platformList{&l.o.platforms}.format())
	}
	// Every key is locked, for all its platforms at once, and every
	// failure reported: the plan resolves as a build does, less what the
	// lock may not do (stop at one line, or pin a platform per entry).
	rs, err := l.plan.Resolve(ctx, resolver.NewWithRegistry(imgs, client.Registry()), lockView{old: old, name: l.lockPath(), updating: l.updating},
		plan.ResolveOptions{CheckLayers: true, Describe: imgs.platform, Whole: true, Lenient: true, Also: func(k lock.Key) []ocispecs.Platform {
			// An entry --update re-resolves keeps its other platforms.
			e, ok := old.Lookup(k)
			if !ok {
				return nil
			}
			var ps []ocispecs.Platform
			for _, pk := range slices.Sorted(maps.Keys(e.Platforms)) {
				if p, err := platforms.Parse(pk); err == nil { // Parse checked it
					ps = append(ps, p)
				}
			}
			return ps
		}})
	if err != nil {
		return nil, err
	}
	var got []lock.Got
	for _, r := range rs {
		u := r.Use
		u.Platform = platforms.Normalize(u.Platform) // as the lock spells it
		got = append(got, lock.Got{Use: u, Res: r.Res, Locked: r.How == plan.FromLock, FellBack: r.How == plan.FellBack, Err: r.Err, Also: r.Also,
			Signatures: plan.Signatures(l.plan.Verdict(r.Res))})
	}
	return lk.Lock(old, bad, changes, got)
}

// changeErrors are the errors of the changes, at each of their lines;
// invalid says that an entry's digest is another version's image.
func (l *locker) changeErrors(changes []*lock.Change) (errs []lineError, invalid bool) {
	for _, c := range changes {
		if c.Err == nil {
			continue
		}
		msg := fmt.Sprintf("SDK %s: %v", c.Key.Ref, c.Err)
		if be := (*lock.BindingError)(nil); errors.As(c.Err, &be) {
			be.Lock = l.lockPath()
			msg, invalid = "SDK "+be.Error(), true
		}
		if errors.Is(c.Err, resolver.ErrDenied) {
			host, _, _ := strings.Cut(c.Want.Ref.SourceIn(c.Want.Source).Repository(c.Want.Ref.Platform), "/")
			msg += fmt.Sprintf("; sdkfront lock logs in with the docker config's credentials ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): try docker login %s", host)
		}
		for _, line := range c.Lines {
			errs = append(errs, lineError{line, msg})
		}
	}
	return errs, invalid
}

// report prints what locking did, in the Dockerfile's order, and returns
// the lock it gives and a summary of the changes.
func (l *locker) report(old *lock.File, bad *lock.InvalidEntriesError, changes []*lock.Change) (*lock.File, string) {
	var notes []lineError
	for _, c := range changes {
		for _, fb := range c.Fallbacks {
			for _, line := range fb.Lines {
				notes = append(notes, lineError{line, "warning: " + dockerfile.RuleSDKFlavorFallback.Format(c.Key.Ref, fb.Base, fb.Detected, fb.Flavor)})
			}
		}
	}
	slices.SortStableFunc(notes, func(a, b lineError) int { return a.line - b.line })
	l.printErrors(notes)

	count := map[lock.Kind]int{}
	for _, c := range changes {
		e, kind := c.Entry, c.Kind()
		count[kind]++
		switch kind {
		case lock.Replaced:
			fmt.Fprintf(l.stderr, "%s: replaced an invalid entry (%s) -> %s (%s) %s@%s\n", needName(c.Need, changes), c.Bad.What(), e.Version, e.Flavor, e.Repository, e.Digest)
		case lock.Added:
			fmt.Fprintf(l.stderr, "%s -> %s (%s) %s@%s\n", e.Ref, e.Version, e.Flavor, e.Repository, e.Digest)
		case lock.Updated:
			fmt.Fprintf(l.stderr, "%s: %s -> %s\n", needName(c.Need, changes), c.Old.Version, e.Version)
		case lock.Moved:
			fmt.Fprintf(l.stderr, "%s: %s -> %s (the tag %s moved: %s -> %s)\n", needName(c.Need, changes), c.Old.Version, e.Version, e.Tag, c.Old.Digest, e.Digest)
		case lock.Extended:
			fmt.Fprintf(l.stderr, "%s: %s, now also for %s\n", needName(c.Need, changes), e.Version, strings.Join(c.Added, ", "))
		case lock.Remanifested:
			fmt.Fprintf(l.stderr, "%s: %s, platform manifests changed\n", needName(c.Need, changes), e.Version)
		case lock.Resigned:
			fmt.Fprintf(l.stderr, "%s: %s, signatures: %s -> %s\n", needName(c.Need, changes), e.Version, describeSignatures(c.Old.Signatures), describeSignatures(e.Signatures))
		default:
			if l.o.update && len(l.o.names) > 0 && l.updating(c.Need) {
				fmt.Fprintf(l.stderr, "%s: %s (unchanged)\n", needName(c.Need, changes), e.Version)
			}
		}
	}
	out, removed, removedBad := lock.Result(old, bad, changes)
	for _, e := range removed {
		fmt.Fprintf(l.stderr, "%s (%s): removed, no SDK line uses it\n", e.Ref, describe(e.Key))
	}
	for _, ee := range removedBad {
		fmt.Fprintf(l.stderr, "%s: removed an invalid entry no SDK line uses (%s)\n", ee.Key, ee.What())
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{count[lock.Added], "added"}, {count[lock.Replaced], "replaced"},
		{count[lock.Updated] + count[lock.Moved] + count[lock.Extended] + count[lock.Remanifested] + count[lock.Resigned], "updated"},
		{len(removed) + len(removedBad), "removed"}, {count[lock.Unchanged], "unchanged"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return out, "no SDKs"
	}
	return out, strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (p platformList) format() string {
	var s []string
	for _, q := range *p.ps {
		s = append(s, lock.PlatformKey(q))
	}
	return strings.Join(s, ", ")
}

// updating reports whether --update asks for n.
func (l *locker) updating(n *lock.Need) bool {
	if !l.o.update {
		return false
	}
	if len(l.o.names) == 0 {
		return true
	}
	return slices.ContainsFunc(l.o.names, func(s string) bool { return matchesRef(n.Want.Ref, n.Key.Ref, s) })
}

// matchesRef reports whether an --update name names a reference: as
// written, by its SDK platform, or by its repository.
func matchesRef(r resolver.Ref, text, name string) bool {
	return name == text || name == r.Platform || (r.Repository != "" && name == r.Repository)
}

// describeSignatures names an entry's signatures for a change's line.
func describeSignatures(sigs []lock.Signature) string {
	if len(sigs) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range sigs {
		parts = append(parts, fmt.Sprintf("%s signed by %q (policy %s)", s.Kind, s.Signer, s.Policy))
	}
	return strings.Join(parts, ", ")
}
