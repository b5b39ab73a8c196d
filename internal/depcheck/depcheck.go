// Package depcheck lets a package's test hold its place in the house: what
// it may not depend on, checked with `go list` on the package as built,
// beside .golangci.yml's depguard (which sees imports, not what they bring).
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// Deps are the packages that the package in the test's directory depends
// on, itself included (go list -deps). A list too short to mean anything
// fails the test: a check that looks at nothing must not pass.
func Deps(t testing.TB) []string {
	t.Helper()
	return list(t, "-deps", ".")
}

// Imports are the package's direct imports.
func Imports(t testing.TB) []string {
	t.Helper()
	return list(t, "-f", `{{join .Imports " "}}`, ".")
}

// Forbid fails the test for each of forbidden among deps, naming what
// (the package) depends on it.
func Forbid(t testing.TB, what string, deps []string, forbidden ...string) {
	t.Helper()
	for _, f := range forbidden {
		for _, d := range deps {
			if d == f {
				t.Errorf("%s depends on %s", what, f)
			}
		}
	}
}

func list(t testing.TB, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	pkgs := strings.Fields(string(out))
	if args[0] == "-deps" && len(pkgs) < 10 {
		t.Fatalf("go list returned only %d packages; the check is not looking at anything", len(pkgs))
	}
	return pkgs
}
