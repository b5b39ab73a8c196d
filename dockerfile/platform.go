package dockerfile

import (
	"strings"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

// autoArgs are the build args BuildKit defines for every build
// (dockerfile2llb's defaultArgs): the platforms and the target stage, each
// overridden by a build arg of the same name.
func autoArgs(o ScanOpts, lastStage string) map[string]string {
	stage := o.TargetStage
	if stage == "" {
		stage = lastStage
	}
	if stage == "" {
		stage = "default"
	}
	b, t := o.Build, o.Target
	m := map[string]string{
		"BUILDPLATFORM":   platforms.Format(b),
		"BUILDOS":         b.OS,
		"BUILDOSVERSION":  b.OSVersion,
		"BUILDARCH":       b.Architecture,
		"BUILDVARIANT":    b.Variant,
		"TARGETPLATFORM":  platforms.FormatAll(t),
		"TARGETOS":        t.OS,
		"TARGETOSVERSION": t.OSVersion,
		"TARGETARCH":      t.Architecture,
		"TARGETVARIANT":   t.Variant,
		"TARGETSTAGE":     stage,
	}
	for k := range m {
		if v, ok := o.BuildArgs[k]; ok {
			m[k] = v
		}
	}
	return m
}

// StagePlatform is the platform stage i runs on: its FROM --platform, else
// that of the stage it is built from, else the target platform.
func (s *Scan) StagePlatform(i int) (ocispecs.Platform, error) {
	for ; i >= 0; i = s.Stages[i].Parent {
		expr := s.Stages[i].Platform
		if expr == "" {
			continue
		}
		v, _, err := s.lex.ProcessWord(expr, s.meta)
		if err != nil {
			return s.opts.Target, errors.Wrapf(err, "expanding --platform=%s", expr)
		}
		p, err := platforms.Parse(v)
		if err != nil {
			return s.opts.Target, errors.Wrapf(err, "--platform=%s", v)
		}
		return platforms.Normalize(p), nil
	}
	return s.opts.Target, nil
}

// BaseImage is the image stage i is ultimately built FROM, following
// FROM <stage> chains: "debian:bookworm", "scratch"; "" if unknown.
func (s *Scan) BaseImage(i int) string {
	for i >= 0 && s.Stages[i].Parent >= 0 {
		i = s.Stages[i].Parent
	}
	if i < 0 {
		return ""
	}
	return s.Stages[i].Base
}

// TargetStage is the index of the stage the build targets: the --target
// stage, whose name BuildKit matches regardless of case, or else the
// last; -1 if the Dockerfile has no stage.
func (s *Scan) TargetStage() int {
	if t := s.opts.TargetStage; t != "" {
		for i, st := range s.Stages {
			if strings.EqualFold(st.Name, t) {
				return i
			}
		}
	}
	return len(s.Stages) - 1
}
