package frontend

import (
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

// autoArgs are the platform build args BuildKit defines for every build.
func autoArgs(build, target ocispecs.Platform) map[string]string {
	return map[string]string{
		"BUILDPLATFORM":  platforms.Format(build),
		"BUILDOS":        build.OS,
		"BUILDARCH":      build.Architecture,
		"BUILDVARIANT":   build.Variant,
		"TARGETPLATFORM": platforms.Format(target),
		"TARGETOS":       target.OS,
		"TARGETARCH":     target.Architecture,
		"TARGETVARIANT":  target.Variant,
	}
}

// stagePlatform is the platform a stage runs on when building for target:
// its FROM --platform, else that of the stage it is built from, else target.
func (sr *scanResult) stagePlatform(i int, build, target ocispecs.Platform, lex *shell.Lex) (ocispecs.Platform, error) {
	for ; i >= 0; i = sr.stages[i].parent {
		expr := sr.stages[i].platform
		if expr == "" {
			continue
		}
		env := sr.meta.clone()
		for k, v := range autoArgs(build, target) {
			env.set(k, v)
		}
		s, _, err := lex.ProcessWord(expr, env)
		if err != nil {
			return target, errors.Wrapf(err, "expanding --platform=%s", expr)
		}
		p, err := platforms.Parse(s)
		if err != nil {
			return target, errors.Wrapf(err, "--platform=%s", s)
		}
		return platforms.Normalize(p), nil
	}
	return target, nil
}
