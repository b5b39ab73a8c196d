package main

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readOverlay(t *testing.T, file string) overlayJSON {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ov overlayJSON
	if err := json.Unmarshal(data, &ov); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return ov
}

// TestPatchesApplyToThePinnedModules applies every lab/patches/*.patch to
// its module as go.mod (buildctl's) and lab/tools/go.mod (docker-buildx's)
// pin it, offline, as lab/lab.sh tools does: a dependency upgrade that
// breaks or obsoletes a patch fails here, in make test-unit, with the
// patch's reason and how to drop it.
func TestPatchesApplyToThePinnedModules(t *testing.T) {
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
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
				ov := readOverlay(t, mustWriteOverlay(t, p, mods))
				if len(ov.Replace) != len(p.Files) {
					t.Fatalf("overlay replaces %d files, the patch changes %d", len(ov.Replace), len(p.Files))
				}
				for orig, patched := range ov.Replace {
					src, err := os.ReadFile(patched)
					if err != nil {
						t.Fatal(err)
					}
					if strings.HasSuffix(orig, ".go") {
						if _, err := parser.ParseFile(token.NewFileSet(), patched, src, parser.SkipObjectResolution); err != nil {
							t.Errorf("the patched %s does not parse: %v", orig, err)
						}
					}
					if !strings.Contains(string(src), "lab/patches/"+p.Name) {
						t.Errorf("the patched %s does not name lab/patches/%s in a comment", orig, p.Name)
					}
				}
			})
		}
	}
}

func mustWriteOverlay(t *testing.T, p *Patch, mods Modules) string {
	t.Helper()
	file, err := WriteOverlay([]*Patch{p}, mods, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return file
}
