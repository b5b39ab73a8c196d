// Package frontend is sdkfront's gateway glue: it reads the Dockerfile,
// resolves its SDK directives, rewrites them into plain Dockerfile, and
// delegates everything else to BuildKit's own Dockerfile builder in-process.
package frontend

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"path"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry"
)

// MetaResolved is the result metadata key that lists every resolution, as
// JSON. BuildKit passes "frontend."-prefixed keys to the client, so it shows
// up in buildctl's --metadata-file.
const MetaResolved = "frontend.sdk.resolved"

// Name is what sdkfront sets as "cmdline" so that BuildKit's builder does
// not forward the build to the "# syntax=" image again.
const Name = "sdkfront"

// Build is the gateway BuildFunc.
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	return build(ctx, c, nil)
}

// build is Build with the tag lister replaceable, for tests.
func build(ctx context.Context, c client.Client, tags resolver.TagLister) (*client.Result, error) {
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return nil, err
	}
	opts := c.BuildOpts().Opts
	if _, ok := opts["cmdline"]; !ok {
		// Not yet forwarded: a "# syntax=" line or BUILDKIT_SYNTAX picks
		// the frontend, exactly as with the stock one.
		if _, ok := opts["build-arg:BUILDKIT_SYNTAX"]; ok {
			return builder.Build(ctx, c)
		}
		if _, _, _, ok := parser.DetectSyntax(src.Data); ok {
			return builder.Build(ctx, c)
		}
	}
	ast, err := parser.Parse(bytes.NewReader(src.Data))
	if err != nil {
		return builder.Build(ctx, c) // reports the syntax error as usual
	}

	buildPlatform := bc.BuildPlatforms[0]
	targets := bc.TargetPlatforms
	if len(targets) == 0 {
		targets = []ocispecs.Platform{buildPlatform}
	}
	sr, err := scan(ast, bc.BuildArgs, autoArgs(buildPlatform, targets[0]))
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	if len(sr.uses) == 0 {
		return builder.Build(ctx, c) // a plain Dockerfile is the stock build
	}

	set, err := loadSettings(src.Data, bc.BuildArgs)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	if tags == nil {
		tags = registry.New(registry.WithInsecureRegistries(set.insecure))
	}
	r := resolver.New(gatewayImages{c}, tags)
	pl, err := resolveAll(ctx, c, r, set, sr, shell.NewLex(ast.EscapeToken), buildPlatform, targets)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}
	rw, err := rewriteDockerfile(src.Data, sr.uses, pl.bind)
	if err != nil {
		return nil, withSource(err, src.SourceMap)
	}

	sc, err := delegate(ctx, c, bc, src, rw, pl)
	if err != nil {
		return nil, err
	}
	res, err := builder.Build(ctx, sc)
	if err != nil {
		return nil, sc.fix.err(err)
	}
	if dt, err := json.Marshal(pl.resolved); err == nil {
		res.AddMeta(MetaResolved, dt)
	}
	return res, nil
}

// delegate prepares the client BuildKit's builder runs against: the
// rewritten Dockerfile as the "dockerfile" input (with the ignore patterns
// that applied to the original), the SDK states as named contexts, and
// "cmdline" set so that the builder does not forward again.
func delegate(ctx context.Context, c client.Client, bc *dockerui.Client, src *dockerui.Source, rw *rewrite, pl *plan) (*sdkClient, error) {
	opts := maps.Clone(c.BuildOpts().Opts)
	if opts == nil {
		opts = map[string]string{}
	}
	delete(opts, "dockerfilekey")
	opts["cmdline"] = Name
	maps.Copy(opts, pl.contexts)

	inputs := maps.Clone(pl.inputs)
	// A git or HTTP context would make the builder read the Dockerfile from
	// there; hand it over as the context input instead.
	if v := opts["context"]; v != "" {
		_, isGit, _ := dockerui.DetectGitContext(v, nil)
		_, _, isHTTP := dockerui.DetectHTTPContext(v)
		if isGit || isHTTP {
			st, err := bc.MainContext(ctx)
			if err != nil {
				return nil, err
			}
			inputs["context"] = *st
			delete(opts, "context")
		}
	}

	fn := src.Filename
	ignore, err := bc.DockerIgnorePatterns(ctx)
	if err != nil {
		return nil, err
	}
	fa := llb.Mkdir(path.Dir("/"+fn), 0o755, llb.WithParents(true)).
		Mkfile("/"+fn, 0o644, rw.data)
	if len(ignore) > 0 {
		fa = fa.Mkfile("/"+fn+".dockerignore", 0o644, []byte(strings.Join(ignore, "\n")+"\n"))
	}
	inputs["dockerfile"] = llb.Scratch().File(fa, llb.WithCustomName("[sdk] rewrite "+fn))

	return &sdkClient{Client: c, opts: opts, inputs: inputs, fix: &sourceFix{orig: src.Data, rw: rw}, fuse: pl.fuse}, nil
}

// withSource attaches the user's Dockerfile to an error that carries
// Dockerfile locations, so that it prints with the offending lines, the
// same way BuildKit prints a Dockerfile syntax error.
func withSource(err error, sm *llb.SourceMap) error {
	var le *parser.LocationError
	if sm == nil || !errors.As(err, &le) {
		return err
	}
	s := &errdefs.Source{Info: &pb.SourceInfo{
		Data: sm.Data, Filename: sm.Filename, Language: sm.Language, Definition: sm.Definition.ToPB(),
	}}
	for _, rs := range le.Locations {
		for _, r := range rs {
			s.Ranges = append(s.Ranges, &pb.Range{
				Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
				End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
			})
		}
	}
	return errdefs.WithSource(err, s)
}
