package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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

	client := l.flavors.client
	imgs := &images{c: client, manifests: map[imageKey]registry.PlatformImage{}}
	lk := &lock.Locker{
		Resolver: resolver.NewWithRegistry(imgs, client.Registry()), Platform: imgs.platform,
		AllowForeign: l.settings.AllowForeign, Update: l.updating, Verify: l.verifyLocked,
	}
	changes := lk.Plan(old, bad, needs)
	if todo := len(slices.DeleteFunc(slices.Clone(changes), func(c *lock.Change) bool { return !lk.Resolves(c) })); todo > 0 {
		fmt.Fprintf(l.stderr, "resolving %s for %s\n", plural(todo, "SDK"), platformList{&l.o.platforms}.format())
	}
	changes, err = lk.Lock(ctx, old, bad, changes)
	var conflict *lock.ConflictError
	if errors.As(err, &conflict) {
		l.printErrors([]lineError{{conflict.Line, err.Error()}})
		fmt.Fprintf(l.stderr, "%s not written\n", path)
		return exitError
	}
	invalid := false // an entry's digest is another version's image
	for _, c := range changes {
		if c.Err == nil {
			continue
		}
		msg := fmt.Sprintf("SDK %s: %v", c.Key.Ref, c.Err)
		if be := (*lock.BindingError)(nil); errors.As(c.Err, &be) {
			be.Lock = path
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
	if len(errs) > 0 {
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

// verifyLocked is lock.Locker.Verify: the plan's verdict on a digest, as
// the entry records it.
func (l *locker) verifyLocked(ctx context.Context, res resolver.Resolution) ([]lock.Signature, error) {
	v, err := l.plan.Verify(ctx, res)
	return plan.Signatures(v), err
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
