package dockerfile

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fakeBind binds a use the way a check request does, without the
// variables it keeps, so the golden files need no registry: an SDK goes to
// /opt/<platform>/<constraint>.
func fakeBind(u *Use) Binding {
	b := Placeholder(u)
	b.Keep = nil
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
			f, err := Read(src)
			if err != nil {
				t.Fatal(err)
			}
			sr, err := f.Scan(ScanOpts{Build: amd64, Target: amd64})
			if err != nil {
				t.Fatal(err)
			}
			rw, err := f.Rewrite(sr.Uses, fakeBind)
			if err != nil {
				t.Fatal(err)
			}
			// The rewritten file must be plain Dockerfile again, with the
			// user's instructions and the SDK lines' replacements only.
			if _, err := parser.Parse(bytes.NewReader(rw.Data)); err != nil {
				t.Fatalf("rewritten Dockerfile does not parse: %v", err)
			}
			checkRewrite(t, f, sr.Uses, fakeBind, rw)
			var got strings.Builder
			got.Write(rw.Data)
			fmt.Fprintf(&got, "\n### lines %v\n", rw.Lines)
			for _, u := range sr.Uses {
				fmt.Fprintf(&got, "### use line=%d stage=%d mount=%v ref=%q flavor=%q dest=%q unpack=%v source=%q\n",
					u.Line(), u.Stage, u.Mount, u.RefText, u.Flavor, u.Dest, u.Unpack, u.Subpath)
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
			if n := len(strings.Split(string(rw.Data), "\n")); n != len(rw.Lines) {
				t.Errorf("line map has %d entries for %d lines", len(rw.Lines), n)
			}
		})
	}
}
