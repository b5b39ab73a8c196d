package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/resolver"
)

// detectable reports whether base has a flavor to detect at all.
func detectable(base string) bool { return base != "" && !strings.EqualFold(base, "scratch") }

// baseKey is a base image on a platform: its flavor is read once.
type baseKey struct {
	base     string
	platform string // lock.PlatformKey
}

// detected is what a base image's os-release said.
type detected struct {
	codename string
	known    bool
	err      error
}

// Detect gives every need whose flavor comes from its base image that
// image's flavor (VERSION_CODENAME), reading each base once per platform,
// a few at a time, and the flavor it falls back to (Fallback). A base
// that cannot be read is an error at the lines built on it. A build's
// first bad stage platform, which Read left for later, is Detect's error:
// a build looks at platforms only once it has read its lock.
func (p *Plan) Detect(ctx context.Context, h Host) []error {
	if len(p.platformErrs) > 0 {
		return p.platformErrs[:1]
	}
	var keys []baseKey
	plats := map[baseKey]ocispecs.Platform{}
	for _, n := range p.Needs {
		if !detectable(n.Base) {
			continue
		}
		k := baseKey{n.Base, n.PlatformKey()}
		if _, ok := plats[k]; !ok {
			plats[k] = n.Platform
			keys = append(keys, k)
		}
	}
	found := map[baseKey]detected{}
	var mu sync.Mutex
	var panicked any
	var eg errgroup.Group
	eg.SetLimit(4)
	for _, k := range keys {
		eg.Go(func() error {
			// A host's panic goes on in the caller's goroutine, where its
			// entry point turns it into an error.
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					panicked = r
					mu.Unlock()
				}
			}()
			var d detected
			dt, err := h.OSRelease(ctx, k.base, plats[k])
			switch {
			case errors.Is(err, ErrNotRead):
			case err != nil:
				d.err = err
			default:
				d.codename, d.known = resolver.FlavorFromOSRelease(dt), true
			}
			mu.Lock()
			found[k] = d
			mu.Unlock()
			return nil
		})
	}
	_ = eg.Wait()
	if panicked != nil {
		panic(panicked)
	}

	var errs []error
	for i := range p.Needs {
		n := &p.Needs[i]
		if !detectable(n.Base) {
			continue
		}
		d := found[baseKey{n.Base, n.PlatformKey()}]
		if d.err != nil {
			errs = append(errs, &LineError{Line: n.Line, Err: fmt.Errorf("cannot read the flavor of the base image %s for %s: %w; name the flavor (--flavor=, # sdk-flavor= or --build-arg %s=) to lock without reading it",
				n.Base, n.PlatformKey(), d.err, dockerfile.ArgFlavor)})
			continue
		}
		n.Flavor, n.Fallback = Flavor(n.Flavor, d.codename, d.known)
	}
	if len(errs) > 0 {
		return sortErrors(errs)
	}
	return nil
}

// Flavor is the flavor a line resolves with, given the flavor it would
// get otherwise (def) and its base image's codename: the codename, if the
// base has one, falling back to def if the SDK lacks it (lock.FallsBack).
// A codename not known ("", def): any flavor of the line fits.
func Flavor(def, codename string, known bool) (flavor, fallback string) {
	switch {
	case !known:
		return "", def
	case codename != "" && codename != def:
		return codename, def
	}
	return def, ""
}
