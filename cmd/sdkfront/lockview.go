package main

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
)

// lockView is the lock as sdkfront lock resolves with it (plan.LockView):
// an entry pins its key for every platform, those it lacks too, which it
// is extended to with the same digest (one lock entry holds one
// resolution), unless --update asks for the key.
type lockView struct {
	old      *lock.File // nil: there is none
	name     string
	updating func(*lock.Need) bool
}

var _ plan.LockView = lockView{}

func (v lockView) Name() string { return v.name }

// Pin gives the entry for n's key with flavor, for any platform: the
// invalid entries Parse left out pin nothing, and are replaced.
func (v lockView) Pin(n plan.Need, flavor string) (resolver.Resolution, bool, string, error) {
	k := n.Want.Key(flavor)
	e, ok := v.old.Lookup(k)
	if !ok || v.updating(&lock.Need{Key: k, Want: n.Want}) {
		return resolver.Resolution{}, false, "", nil
	}
	return resolver.Resolution{
		Ref: e.Ref, Platform: n.SDK.Ref.Platform, Flavor: e.Flavor, Version: e.Version,
		Repository: e.Repository, Tag: e.Tag, Digest: e.Digest, Target: n.Platform,
		Platforms: e.Platforms, Locked: true,
	}, true, "", nil
}

// Unpinned is resolved: sdkfront lock locks it.
func (lockView) Unpinned(plan.Need, string) error { return nil }

// Looked: an invalid entry no line uses is removed.
func (lockView) Looked() error { return nil }

// Check reads the entry's image for n's stage platform, with its config,
// and checks it as a resolution is checked: its manifest is the one the
// entry holds (if it holds one), it is an SDK image, its layers carry no
// foreign URLs that are not allowed, and its version label names the
// entry's version (a *lock.BindingError if not). The platform's manifest
// is added to the entry's, which is extended to it.
func (v lockView) Check(ctx context.Context, r *resolver.Resolver, n plan.Need, res resolver.Resolution, allowed []string) (resolver.Resolution, string, error) {
	k := lock.PlatformKey(n.Platform)
	held, had := res.Platforms[k]
	ref := res.Pinned()
	m, err := r.ReadPinnedConfig(ctx, ref, n.Platform)
	if errors.As(err, new(*resolver.ImageError)) {
		return res, "", err // not an SDK image
	}
	if err != nil {
		return res, "", fmt.Errorf("locked to %s, which cannot be resolved for %s: %w; to re-resolve it, run sdkfront lock --update %s", res.Version, k, resolver.Advise(err), n.Key().Ref)
	}
	if had && m.Image != held {
		return res, "", fmt.Errorf("locked to %s, whose manifest for %s is %s, not the lock's %s; to re-resolve it, run sdkfront lock --update %s", res.Version, k, m.Image, held, n.Key().Ref)
	}
	if err := resolver.CheckForeignURLs(ref, m.Descriptors(), allowed); err != nil {
		return res, "", fmt.Errorf("for %s: %w", k, err)
	}
	if res.Label, err = lock.Bind(res, m.Config); err != nil {
		return res, "", err
	}
	if !had {
		res.Platforms = maps.Clone(res.Platforms)
		res.Platforms[k] = m.Image
	}
	return res, "", nil
}
