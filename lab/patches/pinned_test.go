package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// TestPatchesApplyToThePinnedModules applies every lab/patches/*.patch to
// its module as go.mod (buildctl's) and lab/tools/go.mod (docker-buildx's)
// pin it, offline, as lab/lab.sh tools does: a dependency upgrade that
// breaks or obsoletes a patch fails here, in make test-unit, with the
// patch's reason and how to drop it.
func TestPatchesApplyToThePinnedModules(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	files, err := filepath.Glob("*.patch")
	if err != nil || len(files) == 0 {
		t.Fatalf("no lab/patches/*.patch (%v)", err)
	}
	for _, file := range files {
		p, err := readPatch(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, gomod := range []string{"../..", "../tools"} {
			t.Run(file+"/"+gomod, func(t *testing.T) {
				mods := GoModules(gomod)
				if _, err := mods(p.Module); err != nil && gomod != "../.." {
					// lab/tools' modules are downloaded by lab.sh tools, not by
					// a unit-test run; the root module's are always there.
					t.Skipf("%v (offline; lab/lab.sh tools checks it)", err)
				}
				out := t.TempDir()
				modFile, err := Prepare([]*Patch{p}, gomod, mods, out)
				if err != nil {
					t.Fatal(err)
				}
				m, _ := mods(p.Module)
				for _, f := range p.Files {
					file := filepath.Join(out, p.Module+"@"+m.Version, filepath.FromSlash(f))
					src, err := os.ReadFile(file)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(string(src), "lab/patches/"+p.Name) {
						t.Errorf("the patched %s does not name lab/patches/%s in a comment", f, p.Name)
					}
				}
				// The patched packages compile, as the tool's build uses them
				// (-trimpath: the build cache then outlives the temporary copy).
				var pkgs []string
				for _, f := range p.Files {
					pkgs = append(pkgs, path.Join(p.Module, path.Dir(f)))
				}
				cmd := exec.Command("go", append([]string{"build", "-trimpath", "-modfile=" + modFile}, pkgs...)...)
				cmd.Dir = gomod
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("go build -modfile=%s %s: %v\n%s", modFile, strings.Join(pkgs, " "), err, out)
				}
			})
		}
	}
}
