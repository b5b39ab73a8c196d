package frontend

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
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

// warning is one finding of sdkfront's checks.
type warning struct {
	rule, description, url, msg string
	location                    []parser.Range
}

// deferChecks arranges for the findings of sdkfront's checks to show as
// BuildKit's builder shows its own: "Rule: message (line N)", with the
// user's Dockerfile, on the vertex that loads the Dockerfile the builder
// reads. Clients drop warnings of vertices they do not know yet, and the
// progress of a solve may reach them after the solve returns, so they are
// sent at the builder's next solve after that vertex, when it has converted
// the Dockerfile and warned itself, or at the latest when it is done.
func (c *sdkClient) deferChecks(ctx context.Context, src *dockerui.Source, ws []warning) error {
	if len(ws) == 0 {
		return nil
	}
	def, err := c.inputs[inputDockerfile].Marshal(ctx, llb.WithCaps(c.Client.BuildOpts().Caps))
	if err != nil {
		return err
	}
	vtx, err := def.Head()
	if err != nil {
		return err
	}
	si := &pb.SourceInfo{Data: src.Data, Filename: src.Filename, Language: src.Language}
	if src.Definition != nil {
		si.Definition = src.Definition.ToPB()
	}
	c.checks = &pendingChecks{vertex: vtx, source: si, warnings: ws}
	return nil
}

// pendingChecks are findings waiting for their vertex.
type pendingChecks struct {
	vertex   digest.Digest
	source   *pb.SourceInfo
	warnings []warning
	solved   atomic.Bool
	once     sync.Once
}

// saw records that def, just solved, holds the vertex.
func (p *pendingChecks) saw(def *pb.Definition) {
	if p != nil && def != nil && slices.ContainsFunc(def.Def, func(dt []byte) bool { return digest.FromBytes(dt) == p.vertex }) {
		p.solved.Store(true)
	}
}

// flush sends the warnings, once, if their vertex was solved.
func (p *pendingChecks) flush(ctx context.Context, c client.Client) error {
	if p == nil || !p.solved.Load() {
		return nil
	}
	var err error
	p.once.Do(func() {
		for _, w := range p.warnings {
			line := 0
			if len(w.location) > 0 {
				line = w.location[0].Start.Line
			}
			opts := warnOpts(w.location, [][]byte{[]byte(w.description)}, w.url)
			opts.SourceInfo = p.source
			if err = c.Warn(ctx, p.vertex, linter.LintFormatShort(w.rule, w.msg, line), opts); err != nil {
				return
			}
		}
	})
	return err
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
