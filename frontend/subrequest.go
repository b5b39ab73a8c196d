package frontend

import (
	"context"
	"encoding/json"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// isCheckRequest reports whether a subrequest ("--call") answers from the
// Dockerfile alone: sdkfront then resolves no SDK.
func isCheckRequest(req string) bool {
	switch req {
	case outline.RequestSubrequestsOutline, targets.RequestTargets, lint.RequestLint:
		return true
	}
	return false
}

// subrequest answers "--call outline", "targets" and "check" without
// touching a registry: every SDK line becomes a placeholder that keeps the
// line's build args visible to BuildKit's converter, BuildKit answers for
// the rewritten Dockerfile, and the answer is mapped back onto the user's
// lines, with sdkfront's own checks added to "check".
func subrequest(ctx context.Context, r *run, req string) (*client.Result, error) {
	bc, src, f := r.bc, r.src, r.f
	build := bc.BuildPlatforms[0]
	tp := build
	if len(bc.TargetPlatforms) > 0 {
		tp = bc.TargetPlatforms[0]
	}
	scan, err := f.Scan(dockerfile.ScanOpts{BuildArgs: bc.BuildArgs, Build: build, Target: tp, TargetStage: bc.Target, Lenient: true})
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	// A bad SDK line is a placeholder like any other: outline and targets
	// do not depend on it, and check reports it.

	pl := placeholders(scan.Uses, tp)
	rw, err := f.Rewrite(scan.Uses, pl.binding)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	var lr *lintRun
	if req == lint.RequestLint {
		if lr, err = newLintRun(f, bc); err != nil {
			return nil, err
		}
	}
	sc, err := r.sdkClient(ctx, delegation{rw: rw, plan: pl, lint: lr})
	if err != nil {
		return nil, err
	}
	res, err := builder.Build(ctx, sc)
	if err != nil {
		return nil, sc.fix.err(err)
	}
	dt, ok := res.Metadata["result.json"]
	if !ok {
		return res, nil
	}

	switch req {
	case lint.RequestLint:
		var results lint.LintResults
		if err := json.Unmarshal(dt, &results); err != nil {
			return nil, errors.Wrap(err, "sdkfront: reading BuildKit's check result")
		}
		idx := -1
		for i, si := range results.Sources {
			if sc.fix.info(si) {
				idx = i
			}
		}
		if idx < 0 {
			idx = results.AddSource(src.SourceMap)
		}
		for _, w := range results.Warnings {
			if w.Location != nil && int(w.Location.SourceIndex) == idx {
				sc.fix.ranges(w.Location.Ranges)
			}
		}
		if results.Error != nil && int(results.Error.Location.SourceIndex) == idx {
			sc.fix.ranges(results.Error.Location.Ranges)
		}
		f.Check(lr.lint, scan.Uses)
		for _, w := range lr.warnings() {
			results.AddWarning(w.rule, w.description, w.url, w.msg, idx, w.location)
		}
		if results.Error == nil && len(scan.Errors) > 0 {
			var le *parser.LocationError
			be := &lint.BuildError{Message: scan.Errors[0].Error(), Location: pb.Location{SourceIndex: int32(idx)}}
			if errors.As(scan.Errors[0], &le) && len(le.Locations) > 0 {
				be.Location.Ranges = pbRanges(le.Locations[0])
			}
			results.Error = be
		}
		if results.Error == nil {
			results.Error = lr.resultsError(&results)
		}
		return results.ToResult(nil)

	case outline.RequestSubrequestsOutline:
		var o outline.Outline
		if err := json.Unmarshal(dt, &o); err != nil {
			return nil, errors.Wrap(err, "sdkfront: reading BuildKit's outline")
		}
		mine := sc.fix.sources(o.Sources)
		fix := func(l *pb.Location) {
			if l != nil && mine[l.SourceIndex] {
				sc.fix.ranges(l.Ranges)
			}
		}
		for i := range o.Args {
			fix(o.Args[i].Location)
		}
		for i := range o.Secrets {
			fix(o.Secrets[i].Location)
		}
		for i := range o.SSH {
			fix(o.SSH[i].Location)
		}
		for i := range o.Cache {
			fix(o.Cache[i].Location)
		}
		return o.ToResult()

	case targets.RequestTargets:
		var tl targets.List
		if err := json.Unmarshal(dt, &tl); err != nil {
			return nil, errors.Wrap(err, "sdkfront: reading BuildKit's targets")
		}
		mine := sc.fix.sources(tl.Sources)
		for i := range tl.Targets {
			if l := tl.Targets[i].Location; l != nil && mine[l.SourceIndex] {
				sc.fix.ranges(l.Ranges)
			}
		}
		return tl.ToResult()
	}
	return res, nil
}

// placeholders binds every use to an empty named context, so that the
// rewritten Dockerfile converts without resolving anything.
func placeholders(uses []*dockerfile.Use, tp ocispecs.Platform) *plan {
	pl := &plan{bind: map[int]dockerfile.Binding{}, inputs: map[string]llb.State{}, contexts: map[string]string{}}
	for _, u := range uses {
		b := dockerfile.Placeholder(u)
		pl.bind[u.Index] = b
		pl.inputs[b.Context.String()] = llb.Scratch().Platform(tp)
		pl.contexts[b.Context.Option()] = inputPrefix + b.Context.String()
	}
	return pl
}
