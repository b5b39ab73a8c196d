package frontend

import (
	"context"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// newLinter is a linter for sdkfront's own checks, configured the way
// BuildKit configures its own (dockerfile2llb's newRuleLinter): the
// BUILDKIT_DOCKERFILE_CHECK build arg, else the "# check=" directive as
// BuildKit reads it.
func newLinter(f *dockerfile.File, bc *dockerui.Client, warn linter.LintWarnFunc) (*linter.Linter, error) {
	cfg := bc.LinterConfig
	if cfg == nil {
		v, _, _, _ := parser.ParseDirective("check", f.Text)
		c, err := linter.ParseLintOptions(v)
		if err != nil {
			return nil, errors.Wrap(err, "failed to parse check options")
		}
		cfg = c
	} else {
		c := *cfg
		cfg = &c
	}
	cfg.Warn = warn
	return linter.New(cfg), nil
}

// buildWarn shows a check's warning during a build as BuildKit's builder
// shows its own: "Rule: message (line N)" on the Dockerfile's load vertex.
func buildWarn(ctx context.Context, src *dockerui.Source) linter.LintWarnFunc {
	return func(rulename, description, url, msg string, location []parser.Range) {
		line := 0
		if len(location) > 0 {
			line = location[0].Start.Line
		}
		src.Warn(ctx, linter.LintFormatShort(rulename, msg, line), warnOpts(location, [][]byte{[]byte(description)}, url))
	}
}

// warnOpts is builder.warnOpts, which BuildKit does not export.
func warnOpts(r []parser.Range, detail [][]byte, url string) client.WarnOpts {
	opts := client.WarnOpts{Level: 1, Detail: detail, URL: url}
	if r == nil {
		return opts
	}
	opts.Range = pbRanges(r)
	return opts
}

func pbRanges(rs []parser.Range) []*pb.Range {
	out := []*pb.Range{}
	for _, r := range rs {
		out = append(out, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
		})
	}
	return out
}
