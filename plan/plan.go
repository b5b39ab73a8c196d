package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// Options are what a Dockerfile is planned with.
type Options struct {
	BuildArgs map[string]string
	Build     ocispecs.Platform   // the first build platform
	Targets   []ocispecs.Platform // none: Build
	// TargetStage is the --target stage; "" means the last one.
	TargetStage string
	Settings    dockerfile.Settings
	// Lenient goes on past a bad line and reports every line's error, as
	// sdkfront lock does; a build stops at the first.
	Lenient bool
	// Verify checks a resolved SDK before it is pinned (its signatures,
	// say), and gives its verdict; nil checks nothing. See Plan.Verify
	// and Verifier.
	Verify func(ctx context.Context, res resolver.Resolution) (*trust.Verdict, error)
}

// Target is one target platform, with the SDK lines expanded for it.
type Target struct {
	Platform ocispecs.Platform
	Scan     *dockerfile.Scan
}

// Need is an SDK line on one target platform: what it asks of the lock
// (its key: Want.Key(Flavor)), the flavor it falls back to, and the
// platform of its stage (lock.Use, as locking groups them into a
// lock.Need).
type Need struct {
	lock.Use
	SDK    *dockerfile.Use
	Target int // index into Plan.Targets
}

// Key is the lock key of n for the flavor it is resolved with.
func (n Need) Key() lock.Key { return n.Want.Key(n.Flavor) }

// PlatformKey is the platform of n's stage as keys spell it.
func (n Need) PlatformKey() string { return lock.PlatformKey(n.Platform) }

// Plan is the SDK needs of a Dockerfile for its target platforms.
type Plan struct {
	Targets []Target
	Needs   []Need // by target, then in the Dockerfile's order

	opts     Options
	verified verified
	// platformErrs are the stages whose platform is bad, which a build
	// reports in Detect.
	platformErrs []error
}

// LineError is a mistake at a Dockerfile line; Err carries its location.
type LineError struct {
	Line int // the user's line; 0: none
	Err  error
}

func (e *LineError) Error() string { return e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// Make plans f: Read, then Detect.
func Make(ctx context.Context, h Host, f *dockerfile.File, o Options) (*Plan, []error) {
	p, errs := Read(ctx, h, f, o)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := p.Detect(ctx, h); len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// Read scans f for every target platform and reads the version files its
// lines name, each once. The needs' flavors are the lines' own or the
// build's until Detect. Errors are *LineErrors: the first, or every one
// sorted by line when Lenient.
func Read(ctx context.Context, h Files, f *dockerfile.File, o Options) (*Plan, []error) {
	p := &Plan{opts: o}
	ps := o.Targets
	if len(ps) == 0 {
		ps = []ocispecs.Platform{o.Build}
	}
	var errs []error
	for _, tp := range ps {
		s, err := f.Scan(dockerfile.ScanOpts{BuildArgs: o.BuildArgs, Build: o.Build, Target: tp, TargetStage: o.TargetStage, Lenient: o.Lenient})
		if err != nil {
			if !o.Lenient {
				if len(ps) > 1 {
					err = fmt.Errorf("for %s: %w", platforms.Format(tp), err)
				}
				return nil, []error{at(0, err)}
			}
			errs = append(errs, at(0, err))
			continue
		}
		for _, err := range s.Errors {
			errs = append(errs, at(0, err))
		}
		p.Targets = append(p.Targets, Target{Platform: tp, Scan: s})
	}

	files := versionFiles{h: h, read: map[dockerfile.VersionFile]fileResult{}}
	var fileErrs, platformErrs []error
	for ti, t := range p.Targets {
		for _, u := range t.Scan.Uses {
			if u.Bad {
				continue
			}
			line := f.UserLine(u.Line())
			sp, perr := t.Scan.StagePlatform(u.Stage)
			if perr != nil {
				platformErrs = append(platformErrs, at(line, parser.WithLocation(perr, u.Location())))
				if o.Lenient {
					continue // one error a line
				}
			}
			if !o.Lenient && len(fileErrs) > 0 {
				continue // a build stops at the first
			}
			if err := files.constrain(ctx, u); err != nil {
				fileErrs = append(fileErrs, at(line, parser.WithLocation(err, u.Location())))
				continue
			}
			if perr != nil {
				continue
			}
			n := Need{SDK: u, Target: ti, Use: lock.Use{
				Want:     lock.Want{Ref: u.Ref, Source: o.Settings.Source, FromFile: u.VersionFile != nil},
				Flavor:   o.Settings.FlavorOf(u),
				Platform: sp, Line: line,
			}}
			if o.Settings.DetectsFlavor(u) {
				n.Base = t.Scan.BaseImage(u.Stage)
			}
			p.Needs = append(p.Needs, n)
		}
	}
	if !o.Lenient {
		// A build looks at a stage's platform only once it has read the
		// lock (Detect), after every version file.
		if len(fileErrs) > 0 {
			return nil, fileErrs[:1]
		}
		p.platformErrs = platformErrs
		return p, nil
	}
	errs = append(append(errs, platformErrs...), fileErrs...)
	if len(errs) > 0 {
		return nil, sortErrors(errs)
	}
	return p, nil
}

// at is err at the user's line, or at its own location's line.
func at(line int, err error) *LineError {
	var le *parser.LocationError
	if line == 0 && errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	return &LineError{Line: line, Err: err}
}

// sortErrors sorts errors by line, and drops the repeats: the same bad
// line fails for every platform.
func sortErrors(errs []error) []error {
	line := func(err error) int {
		var le *LineError
		if errors.As(err, &le) {
			return le.Line
		}
		return 0
	}
	slices.SortStableFunc(errs, func(a, b error) int { return line(a) - line(b) })
	return slices.CompactFunc(errs, func(a, b error) bool { return line(a) == line(b) && a.Error() == b.Error() })
}
