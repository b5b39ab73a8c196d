package frontend

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/resolver"
)

// Build args sdkfront reads. Like BUILDKIT_SYNTAX they need no ARG line.
const (
	argSource   = "SDK_SOURCE"
	argFlavor   = "SDK_FLAVOR"
	argInsecure = "SDK_INSECURE_REGISTRIES"

	defaultFlavor = "bookworm"
)

// settings are the build-wide SDK defaults.
type settings struct {
	source   resolver.Source
	flavor   string
	insecure []string
}

// loadSettings reads the sdk-* parser directives, then the SDK_* build args,
// then the defaults. A bad directive's error points at its line.
func loadSettings(f *dockerfile.File, buildArgs map[string]string) (settings, error) {
	s := settings{source: resolver.DefaultSource, flavor: defaultFlavor}

	tmpl, line := buildArgs[argSource], 0
	if d, ok := f.Directive(dockerfile.DirectiveSource); ok {
		tmpl, line = d.Value, d.Line
	}
	if tmpl != "" {
		src, err := resolver.ParseSource(tmpl)
		if err != nil {
			if line > 0 {
				return s, parser.WithLocation(err, lineRange(line))
			}
			return s, errors.Wrapf(err, "build arg %s", argSource)
		}
		s.source = src
	}

	if d, ok := f.Directive(dockerfile.DirectiveFlavor); ok && d.Value != "" {
		s.flavor = d.Value
	} else if v := buildArgs[argFlavor]; v != "" {
		s.flavor = v
	}
	for _, h := range strings.Split(buildArgs[argInsecure], ",") {
		if h = strings.TrimSpace(h); h != "" {
			s.insecure = append(s.insecure, h)
		}
	}
	return s, nil
}

func lineRange(line int) []parser.Range {
	return []parser.Range{{Start: parser.Position{Line: line}, End: parser.Position{Line: line}}}
}
