package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
)

// check compares the lock with the Dockerfile, then (without --offline)
// each entry the Dockerfile uses with its registry (verify). A flavor to
// be detected from a registry's image is not read: any entry of the
// line's ref fits.
func (l *locker) check(ctx context.Context) int {
	if errs := l.detect(ctx, offlineFlavors{l.flavors}); len(errs) > 0 {
		l.printErrors(errs)
		return exitError
	}
	needs := l.needs()
	path := l.lockPath()
	old, dt, bad, err := l.readLock()
	switch {
	case errors.As(err, new(invalidLock)):
		fmt.Fprintf(l.stderr, "%v\n", err)
		fmt.Fprintf(l.stderr, "%s is not a valid lock: fix or delete it, or replace it with: sdkfront lock --update\n", path)
		return exitInvalid
	case bad != nil:
		for _, ee := range bad.Entries {
			fmt.Fprintf(l.stderr, "%s: %v\n", path, ee)
		}
		fmt.Fprintf(l.stderr, "%s is not a valid lock: run %s, which replaces its invalid entries\n", path, l.again())
		return exitInvalid
	case err != nil:
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	case old == nil && len(needs) == 0:
		fmt.Fprintf(l.stderr, "%s has no SDK lines and there is no %s: nothing to lock\n", l.o.file, path)
		return exitOK
	case old == nil:
		fmt.Fprintf(l.stderr, "%s does not exist: run %s\n", path, l.again())
		return exitOutOfDate
	}

	st := lock.Compare(old, dt, needs)
	for _, f := range st.Findings {
		var msg string
		switch {
		case f.Need == nil:
			fmt.Fprintf(l.stderr, "%s: %s (%s) is locked, but no SDK line of %s uses it\n", path, f.Entry.Ref, describe(f.Entry.Key), l.o.file)
			continue
		case f.Entry == nil:
			msg = fmt.Sprintf("%s (%s) is not locked", f.Need.Key.Ref, describe(f.Need.Key))
		default:
			msg = fmt.Sprintf("%s (%s) is locked to %s but not for %s", f.Need.Key.Ref, describe(f.Entry.Key), f.Entry.Version, strings.Join(f.Missing, ", "))
		}
		for _, line := range f.Need.Lines {
			fmt.Fprintf(l.stderr, "%s:%d: %s\n", l.o.file, line, msg)
		}
	}
	if st.Reformatted {
		fmt.Fprintf(l.stderr, "%s: not written the way sdkfront lock writes it (sorted, indented, one trailing newline)\n", path)
	}
	if !l.o.offline {
		switch bad, err := l.verify(ctx, st.Kept); {
		case err != nil:
			fmt.Fprintf(l.stderr, "sdkfront lock: %v; --check --offline checks the lock without its registries\n", err)
			return exitError
		case len(bad) > 0:
			for _, err := range bad {
				fmt.Fprintf(l.stderr, "%s: %v\n", path, err)
			}
			fmt.Fprintf(l.stderr, "%s is not a valid lock: the registry does not confirm the digests named above\n", path)
			return exitInvalid
		}
		switch bad, errs := l.verifySigners(ctx, st.Kept); {
		case len(errs) > 0:
			for _, err := range errs {
				fmt.Fprintf(l.stderr, "%s: %v\n", path, err)
			}
			return exitError
		case len(bad) > 0:
			for _, err := range bad {
				fmt.Fprintf(l.stderr, "%s: %v\n", path, err)
			}
			fmt.Fprintf(l.stderr, "%s is not a valid lock: its signers are not the ones verified now\n", path)
			return exitInvalid
		}
	} else if l.policy != nil {
		fmt.Fprintf(l.stderr, "%s: signatures not verified: --offline reads no registry\n", path)
	}
	if !st.UpToDate() {
		fmt.Fprintf(l.stderr, "%s is out of date: run %s\n", path, l.again())
		return exitOutOfDate
	}
	fmt.Fprintf(l.stderr, "%s is up to date (%s)\n", path, plural(len(st.Kept), "SDK"))
	return exitOK
}

// verify resolves each entry's tag again, for each platform it holds,
// straight from its registry (lock.Entry.Verify): bad are the entries
// whose tag no longer gives their digest, or whose image's version label
// names another version; err is a registry that could not be read.
func (l *locker) verify(ctx context.Context, entries []lock.Entry) (bad []error, err error) {
	type job struct {
		e   lock.Entry
		p   ocispecs.Platform
		err error
	}
	var jobs []*job
	for _, e := range entries {
		for _, k := range slices.Sorted(maps.Keys(e.Platforms)) {
			p, err := platforms.Parse(k) // Parse checked it
			if err != nil {
				return nil, err
			}
			jobs = append(jobs, &job{e: e, p: p})
		}
	}
	var eg errgroup.Group
	eg.SetLimit(4)
	for _, j := range jobs {
		eg.Go(func() error {
			_, j.err = j.e.Verify(ctx, l.flavors.client, j.p)
			return nil
		})
	}
	_ = eg.Wait()
	reported := map[lock.Key]bool{} // an entry once, for its first platform
	for _, j := range jobs {
		switch {
		case j.err == nil:
		case errors.Is(j.err, lock.ErrInvalid):
			if !reported[j.e.Key] {
				reported[j.e.Key] = true
				bad = append(bad, j.err)
			}
		default:
			return nil, fmt.Errorf("SDK %s: cannot read the tag %s:%s for %s: %w", j.e.Ref, j.e.Repository, j.e.Tag, lock.PlatformKey(j.p), resolver.Advise(j.err))
		}
	}
	return bad, nil
}

// verifySigners verifies each entry's digest under the trust policy, as a
// frozen build does: bad are the entries whose recorded signer of a kind
// is not the one verified now (*lock.SignerError); errs the entries that
// do not verify at all. Nothing without a policy.
func (l *locker) verifySigners(ctx context.Context, entries []lock.Entry) (bad, errs []error) {
	if l.policy == nil && verifySDK == nil {
		return nil, nil
	}
	for _, e := range entries {
		res := resolver.Resolution{Ref: e.Ref, Flavor: e.Flavor, Version: e.Version, Repository: e.Repository, Tag: e.Tag, Digest: e.Digest, Locked: true}
		v, err := l.plan.Verify(ctx, res)
		if err == nil {
			err = lock.SameSigners(e.Ref, e.Digest, e.Signatures, plan.Signatures(v))
		}
		switch {
		case errors.Is(err, lock.ErrInvalid):
			bad = append(bad, fmt.Errorf("SDK %s: %w", e.Ref, err))
		case err != nil:
			errs = append(errs, fmt.Errorf("SDK %s: %w", e.Ref, err))
		}
	}
	return bad, errs
}
