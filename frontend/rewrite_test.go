package frontend

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeBind binds every use the way resolveAll would, with the version taken
// from the constraint, so the golden files need no registry.
func fakeBind(uses []*use) map[*use]binding {
	b := map[*use]binding{}
	for _, u := range uses {
		dest := u.dest
		if dest == "" {
			v := u.ref.Constraint.String()
			if v == "" {
				v = "default"
			}
			dest = path.Join("/opt", u.ref.Platform, v)
		}
		b[u] = binding{context: contextName(u, u.flavor, ""), dest: dest}
	}
	return b
}

// TestRewriteGolden rewrites each testdata/rewrite/<case>/Dockerfile and
// compares the result, its line map and its vertex-name map with
// Dockerfile.golden. Run with -update to regenerate.
func TestRewriteGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/rewrite/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			ast, err := parser.Parse(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			sr, err := scan(ast, map[string]string{}, autoArgs(amd64, amd64))
			if err != nil {
				t.Fatal(err)
			}
			rw, err := rewriteDockerfile(src, sr.uses, fakeBind(sr.uses))
			if err != nil {
				t.Fatal(err)
			}
			// The rewritten file must be plain Dockerfile again.
			if _, err := parser.Parse(bytes.NewReader(rw.data)); err != nil {
				t.Fatalf("rewritten Dockerfile does not parse: %v", err)
			}
			var got strings.Builder
			got.Write(rw.data)
			fmt.Fprintf(&got, "\n### lines %v\n", rw.lines)
			for _, u := range sr.uses {
				fmt.Fprintf(&got, "### use line=%d stage=%d mount=%v ref=%q flavor=%q dest=%q unpack=%v source=%q\n",
					u.line, u.stage, u.mount, u.refText, u.flavor, u.dest, u.unpack, u.subpath)
			}
			golden := filepath.Join(dir, "Dockerfile.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("rewrite of %s differs from golden:\n--- got\n%s\n--- want\n%s", dir, got.String(), want)
			}
			if n := len(strings.Split(string(rw.data), "\n")); n != len(rw.lines) {
				t.Errorf("line map has %d entries for %d lines", len(rw.lines), n)
			}
		})
	}
}
