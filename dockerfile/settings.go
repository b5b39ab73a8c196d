package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

// Build args sdkfront reads. Like BUILDKIT_SYNTAX they need no ARG line.
const (
	ArgSource   = "SDK_SOURCE"
	ArgFlavor   = "SDK_FLAVOR"
	ArgInsecure = "SDK_INSECURE_REGISTRIES"
	ArgLock     = "SDK_LOCK"
	ArgForeign  = "SDK_ALLOW_FOREIGN_URLS"
	// ArgPrivateNetworks names the private networks (CIDR, comma- or
	// space-separated) that a registry in one may reach in full, where a
	// private registry otherwise reaches only its own /24 (IPv6: /64);
	// resolver/registry's WithPrivateNetworks reads it.
	ArgPrivateNetworks = "SDK_PRIVATE_NETWORKS"

	DefaultFlavor = "bookworm"
)

// LockMode is how a build uses the lockfile (the build arg SDK_LOCK).
type LockMode string

const (
	// LockUse pins the lines the lock has, and resolves the others with a
	// warning (the default).
	LockUse LockMode = ""
	// LockFrozen fails at a line the lock does not have.
	LockFrozen LockMode = "frozen"
	// LockOff ignores the lock.
	LockOff LockMode = "off"
)

// Settings are the build-wide SDK defaults.
type Settings struct {
	Source resolver.Source
	Flavor string
	// FlavorSet says the flavor was chosen (# sdk-flavor, SDK_FLAVOR); if
	// not, and a line does not choose one either, the flavor is detected
	// from the stage's base image, with Flavor as the fallback.
	FlavorSet bool
	Insecure  []string
	Lock      LockMode
	// AllowForeign are the hosts an SDK layer's foreign URLs may name.
	AllowForeign []string
}

// Settings reads the sdk-* parser directives, then the SDK_* build args,
// then the defaults. A bad directive's error points at its line.
func (f *File) Settings(buildArgs map[string]string) (Settings, error) {
	s := Settings{Source: resolver.DefaultSource, Flavor: DefaultFlavor}

	tmpl, line := buildArgs[ArgSource], 0
	if d, ok := f.Directive(DirectiveSource); ok {
		tmpl, line = d.Value, d.Line
	}
	if tmpl != "" {
		src, err := resolver.ParseSource(tmpl)
		if err != nil {
			if line > 0 {
				return s, parser.WithLocation(err, lineRange(line))
			}
			return s, errors.Wrapf(err, "build arg %s", ArgSource)
		}
		s.Source = src
	}

	if d, ok := f.Directive(DirectiveFlavor); ok && d.Value != "" {
		s.Flavor, s.FlavorSet = d.Value, true
	} else if v := buildArgs[ArgFlavor]; v != "" {
		s.Flavor, s.FlavorSet = v, true
	}
	s.Insecure = list(buildArgs[ArgInsecure])
	s.AllowForeign = list(buildArgs[ArgForeign])
	switch m := LockMode(strings.ToLower(strings.TrimSpace(buildArgs[ArgLock]))); m {
	case LockUse, LockFrozen, LockOff:
		s.Lock = m
	case "on", "use", "true":
		s.Lock = LockUse
	default:
		return s, errors.Errorf("build arg %s=%s: want frozen, off, or nothing to use the lock as it is", ArgLock, buildArgs[ArgLock])
	}
	return s, nil
}

// FlavorOf is the flavor a use asks for: its own, else the build's.
func (s Settings) FlavorOf(u *Use) string {
	if u.Flavor != "" {
		return u.Flavor
	}
	return s.Flavor
}

// DetectsFlavor reports whether u's flavor comes from its base image.
func (s Settings) DetectsFlavor(u *Use) bool { return u.Flavor == "" && !s.FlavorSet }

// list splits a comma-separated build arg.
func list(v string) []string {
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}
