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
	"github.com/pkg/errors"
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

// TestRewriteEditsTheParsedFlag: the rewrite edits the flag BuildKit's
// parser read, never a comment line of a continued RUN that repeats its
// text, with either escape character; a flag that spans lines is an error
// at the instruction's line.
func TestRewriteEditsTheParsedFlag(t *testing.T) {
	const flag = "--mount=type=sdk,ref=golang@1.23,target=/go"
	for _, c := range []struct {
		name string
		df   string
		line int // the 1-based line of the real flag
	}{
		{"backslash", "FROM a\nRUN \\\n# " + flag + " \\\n    " + flag + " \\\n    go version\n", 4},
		{"backslash, indented comment", "FROM a\nRUN \\\n  \t# " + flag + "\n  " + flag + " go version\n", 4},
		{"after a cache mount split over lines", "FROM a\nRUN --mount=type=cache,\\\n  # " + flag + "\ntarget=/c " + flag + " go version\n", 4},
		{"backtick", "# escape=`\nFROM a\nRUN `\n  # " + flag + " `\n  " + flag + " `\n  go version\n", 5},
		{"backtick, backslash is no continuation", "# escape=`\nFROM a\nRUN `\n# " + flag + " \\\n  " + flag + " C:\\go\\bin\\go version\n", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read([]byte(c.df))
			if err != nil {
				t.Fatal(err)
			}
			sr, err := f.Scan(ScanOpts{Build: amd64, Target: amd64})
			if err != nil {
				t.Fatal(err)
			}
			if len(sr.Uses) != 1 {
				t.Fatalf("%d uses, want 1", len(sr.Uses))
			}
			rw, err := f.Rewrite(sr.Uses, fakeBind)
			if err != nil {
				t.Fatal(err)
			}
			checkRewrite(t, f, sr.Uses, fakeBind, rw)
			in := strings.Split(c.df, "\n")
			out := strings.Split(string(rw.Data), "\n")
			if len(out) != len(in) {
				t.Fatalf("%d lines, want %d:\n%s", len(out), len(in), rw.Data)
			}
			gen := wantMountFlag(sr.Uses[0], fakeBind(sr.Uses[0]))
			for i := range in {
				want := in[i]
				if i+1 == c.line {
					want = strings.Replace(in[i], flag, gen, 1)
				}
				if out[i] != want {
					t.Errorf("line %d is %q, want %q", i+1, out[i], want)
				}
			}
		})
	}
}

// TestRewriteSplitFlag: a flag that continues on the next line is an error
// at the instruction's lines, which says to keep it on one.
func TestRewriteSplitFlag(t *testing.T) {
	for _, df := range []string{
		"FROM a\nRUN --mount=type=sdk,\\\nref=golang@1.23,target=/go go version\n",
		"# escape=`\nFROM a\nRUN --mount=type=sdk,`\n# --mount=type=sdk,ref=golang@1.23,target=/go\nref=golang@1.23,target=/go go version\n",
	} {
		f, err := Read([]byte(df))
		if err != nil {
			t.Fatal(err)
		}
		sr, err := f.Scan(ScanOpts{Build: amd64, Target: amd64})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Rewrite(sr.Uses, fakeBind)
		if err == nil || !splitFlag(err) {
			t.Fatalf("%q: err = %v, want one that says to keep the flag on one line", df, err)
		}
		var le *parser.LocationError
		if !errors.As(err, &le) || len(le.Locations) == 0 || le.Locations[0][0].Start.Line != sr.Uses[0].Line() {
			t.Fatalf("%q: error %v is not at line %d", df, err, sr.Uses[0].Line())
		}
	}
}
