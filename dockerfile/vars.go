package dockerfile

import (
	"maps"
	"slices"
)

// vars is an ordered set of variables, as ARG and ENV define them. It
// implements shell.EnvGetter for BuildKit's word expansion.
type vars struct {
	m map[string]string
}

func newVars() *vars { return &vars{m: map[string]string{}} }

func (v *vars) Get(k string) (string, bool) { s, ok := v.m[k]; return s, ok }

func (v *vars) Keys() []string { return slices.Sorted(maps.Keys(v.m)) }

func (v *vars) set(k, val string) { v.m[k] = val }

func (v *vars) clone() *vars { return &vars{m: maps.Clone(v.m)} }

// nonEnvArgs are build args BuildKit never sets in a stage's environment
// (dockerfile2llb's nonEnvArgs).
var nonEnvArgs = map[string]bool{"BUILDKIT_SBOM_SCAN_CONTEXT": true, "BUILDKIT_SBOM_SCAN_STAGE": true}
