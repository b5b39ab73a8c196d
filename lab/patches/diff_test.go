package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPatch = `Module: example.com/m
Why: the loop must stop.

--- a/pkg/f.go
+++ b/pkg/f.go
@@ -2,4 +2,4 @@
 func f() {
-	for {
+	for i := 0; i < 3; i++ {
 	}
 }
`

const testSource = "package pkg\nfunc f() {\n\tfor {\n\t}\n}\n"

func mustParse(t *testing.T, s string) *Patch {
	t.Helper()
	p, err := ParsePatch("test.patch", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePatch(t *testing.T) {
	p := mustParse(t, testPatch)
	if p.Module != "example.com/m" {
		t.Errorf("Module = %q, want example.com/m", p.Module)
	}
	if !strings.Contains(p.Preamble, "Why: the loop must stop.") || strings.Contains(p.Preamble, "---") {
		t.Errorf("Preamble = %q, want the lines before the diff", p.Preamble)
	}
	if len(p.Files) != 1 || p.Files[0] != "pkg/f.go" {
		t.Fatalf("Files = %q, want pkg/f.go", p.Files)
	}
}

func TestParsePatchRejects(t *testing.T) {
	for _, tc := range []struct{ name, patch, want string }{
		{"no module", strings.Replace(testPatch, "Module: example.com/m\n", "", 1), `no "Module:" line`},
		{"no diff", "Module: example.com/m\n", "no diff"},
		{"absolute path", strings.Replace(testPatch, "--- a/pkg/f.go", "--- /pkg/f.go", 1), `"/pkg/f.go" is not a/RELATIVE/PATH`},
		{"parent path", strings.Replace(testPatch, "+++ b/pkg/f.go", "+++ b/../f.go", 1), `"b/../f.go" is not b/RELATIVE/PATH`},
		{"rename", strings.Replace(testPatch, "+++ b/pkg/f.go", "+++ b/pkg/g.go", 1), "renames pkg/f.go to pkg/g.go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePatch("test.patch", []byte(tc.patch))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePatch: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestApplyMoved: upstream added lines above the hunk; it still applies,
// where the code moved.
func TestApplyMoved(t *testing.T) {
	moved := "package pkg\n\nimport \"os\"\n\nvar _ = os.Exit\n" + strings.TrimPrefix(testSource, "package pkg\n")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pkg", "f.go"), []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mustParse(t, testPatch).Apply(dir); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "pkg", "f.go"))
	if want := strings.Replace(moved, "\tfor {\n", "\tfor i := 0; i < 3; i++ {\n", 1); err != nil || string(got) != want {
		t.Errorf("patched = %q, %v; want %q", got, err, want)
	}
}

// fakeModule writes src as example.com/m's pkg/f.go, and a main module
// whose go.mod requires example.com/m; it returns the main module's
// directory and the module finder.
func fakeModule(t *testing.T, src string) (string, Modules) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		t.Helper()
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("cache/example.com/m@v1.2.3/go.mod", "module example.com/m\n\ngo 1.22\n", 0o444)
	write("cache/example.com/m@v1.2.3/pkg/f.go", src, 0o444)
	write("main/go.mod", "module example.com/main\n\ngo 1.22\n\nrequire example.com/m v1.2.3\n", 0o644)
	write("main/go.sum", "example.com/m v1.2.3/go.mod h1:fake=\n", 0o644)
	return filepath.Join(dir, "main"), func(path string) (Module, error) {
		if path != "example.com/m" {
			return Module{}, errors.New("unknown module " + path)
		}
		return Module{Dir: filepath.Join(dir, "cache", "example.com", "m@v1.2.3"), Version: "v1.2.3"}, nil
	}
}

func TestPrepare(t *testing.T) {
	t.Setenv("GOFLAGS", "")
	mainDir, mods := fakeModule(t, testSource)
	out := t.TempDir()
	modFile, err := Prepare([]*Patch{mustParse(t, testPatch)}, mainDir, mods, out)
	if err != nil {
		t.Fatal(err)
	}
	if modFile != filepath.Join(out, "go.mod") {
		t.Errorf("Prepare = %s, want %s/go.mod", modFile, out)
	}
	copyDir := filepath.Join(out, "example.com", "m@v1.2.3")
	gomod, err := os.ReadFile(modFile)
	if err != nil {
		t.Fatal(err)
	}
	if want := "replace example.com/m => " + copyDir + "\n"; !strings.Contains(string(gomod), want) || !strings.HasPrefix(string(gomod), "module example.com/main\n") {
		t.Errorf("go.mod = %q, want the main module's with %q", gomod, want)
	}
	if sum, err := os.ReadFile(filepath.Join(out, "go.sum")); err != nil || string(sum) != "example.com/m v1.2.3/go.mod h1:fake=\n" {
		t.Errorf("go.sum = %q, %v; want the main module's", sum, err)
	}
	if got, err := os.ReadFile(filepath.Join(copyDir, "pkg", "f.go")); err != nil || !strings.Contains(string(got), "for i := 0; i < 3; i++ {") {
		t.Errorf("patched copy = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(copyDir, "go.mod")); err != nil || string(got) != "module example.com/m\n\ngo 1.22\n" {
		t.Errorf("the copy's go.mod = %q, %v; want the module's", got, err)
	}
	m, _ := mods("example.com/m")
	if got, err := os.ReadFile(filepath.Join(m.Dir, "pkg", "f.go")); err != nil || string(got) != testSource {
		t.Errorf("the module cache's file changed: %q, %v", got, err)
	}
}

func TestPrepareFailsWithThePreamble(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"changed", strings.Replace(testSource, "\tfor {", "\tfor range ch {", 1), "FAILED"},
		{"not at a line start", strings.Replace(testSource, "func f() {", "// func f() {", 1), "The module changed where the patch edits it"},
		{"fixed upstream", strings.Replace(testSource, "\tfor {", "\tfor i := 0; i < 3; i++ {", 1), "upstream fixed it, so delete the patch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mainDir, mods := fakeModule(t, tc.src)
			_, err := Prepare([]*Patch{mustParse(t, testPatch)}, mainDir, mods, t.TempDir())
			var ae *ApplyError
			if !errors.As(err, &ae) {
				t.Fatalf("Prepare: %v, want an *ApplyError", err)
			}
			msg := err.Error()
			for _, want := range []string{"lab/patches/test.patch does not apply to example.com/m@v1.2.3: ", tc.want, "\n    Why: the loop must stop."} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
		})
	}
}
