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

// scope is what a stage's instructions see: its ENV (inherited by stages
// built FROM it) over its ARGs (never inherited).
type scope struct{ env, args *vars }

func (s *scope) Get(k string) (string, bool) {
	if v, ok := s.env.Get(k); ok {
		return v, true
	}
	return s.args.Get(k)
}

func (s *scope) Keys() []string {
	m := maps.Clone(s.env.m)
	maps.Copy(m, s.args.m)
	return slices.Sorted(maps.Keys(m))
}
