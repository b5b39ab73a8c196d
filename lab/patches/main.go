// Command patches applies lab/patches/*.patch to copies of modules from the
// Go module cache and writes the go.mod that `go build -modfile` takes, so
// that lab/lab.sh tools can build a tool with a patched dependency without
// vendoring it in the repository:
//
//	go run ./lab/patches -C MODULE_DIR -o OUT_DIR PATCH...
//
// Each patch names its module ("Module: golang.org/x/net"); its version is
// the one MODULE_DIR's go.mod selects. The patched copies, go.mod (MODULE_DIR's
// plus a replace directive per copy) and go.sum land in OUT_DIR, and the
// path of that go.mod is printed. A patch that does not apply fails with the
// patch's own preamble: why it exists and how to drop it. GNU patch applies
// the diffs (see Patch.Apply); this command adds what patch(1) cannot: finding
// the pinned module in the module cache, a writable copy of it, and the
// go.mod that replaces the module with that copy.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	modDir := flag.String("C", ".", "the directory of the go.mod the tool is built with")
	outDir := flag.String("o", "", "where the patched modules, go.mod and go.sum go (required)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: patches -C MODULE_DIR -o OUT_DIR PATCH...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *outDir == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var patches []*Patch
	for _, file := range flag.Args() {
		p, err := readPatch(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "patches:", err)
			os.Exit(1)
		}
		patches = append(patches, p)
	}
	modFile, err := Prepare(patches, *modDir, GoModules(*modDir), *outDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patches:", err)
		os.Exit(1)
	}
	fmt.Println(modFile)
}

func readPatch(file string) (*Patch, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParsePatch(filepath.Base(file), data)
}

// Module is where a module's files are and which version they are.
type Module struct {
	Dir     string
	Version string
}

// Modules finds a module's files, by module path.
type Modules func(path string) (Module, error)

// GoModules finds modules in the Go module cache as the go.mod in dir
// selects them, downloading one that is not there yet.
func GoModules(dir string) Modules {
	return func(path string) (Module, error) {
		m, err := goListModule(dir, path)
		if err == nil && m.Dir == "" {
			cmd := exec.Command("go", "mod", "download", path)
			cmd.Dir, cmd.Stderr = dir, os.Stderr
			if err = cmd.Run(); err == nil {
				m, err = goListModule(dir, path)
			}
		}
		if err == nil && m.Dir == "" {
			err = errors.New("not in the module cache")
		}
		if err != nil {
			return Module{}, fmt.Errorf("module %s of %s: %w", path, filepath.Join(dir, "go.mod"), err)
		}
		return m, nil
	}
}

func goListModule(dir, path string) (Module, error) {
	cmd := exec.Command("go", "list", "-m", "-json", path)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return Module{}, fmt.Errorf("go list -m: %s", strings.TrimSpace(string(ee.Stderr)))
		}
		return Module{}, fmt.Errorf("go list -m: %w", err)
	}
	var m Module
	if err := json.Unmarshal(out, &m); err != nil {
		return Module{}, fmt.Errorf("go list -m: %w", err)
	}
	return m, nil
}

// ApplyError is a patch that does not apply to its module's version.
type ApplyError struct {
	Patch  *Patch
	Module string // path@version
	Err    error
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lab/patches/%s does not apply to %s: %v\n", e.Patch.Name, e.Module, e.Err)
	if errors.Is(e.Err, ErrAlreadyApplied) {
		b.WriteString("The module already has the change: upstream fixed it, so delete the patch (see below).\n")
	} else {
		b.WriteString("The module changed where the patch edits it. If upstream fixed the problem below, delete the\n" +
			"patch; if not, redo the change on the new file and regenerate the patch (diff -u a/PATH b/PATH).\n")
	}
	b.WriteString("\n" + indent(strings.TrimSpace(e.Patch.Preamble), "    "))
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// Prepare makes what `go build -modfile` needs to build the tool of dir's
// go.mod with the patches: each patched module is copied from the module
// cache to outDir/MODULE@VERSION and patched there (the go command refuses
// -overlay files under GOMODCACHE), and outDir/go.mod is dir's go.mod with
// a replace directive to each copy (outDir/go.sum is dir's go.sum). It
// returns outDir/go.mod's path. Two patches may not change the same file.
func Prepare(patches []*Patch, dir string, mods Modules, outDir string) (string, error) {
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", err
	}
	copies := map[string]string{}  // module path -> its patched copy
	changed := map[string]string{} // file of a copy -> the patch that changed it
	for _, p := range patches {
		m, err := mods(p.Module)
		if err != nil {
			return "", fmt.Errorf("lab/patches/%s: %w", p.Name, err)
		}
		dst, ok := copies[p.Module]
		if !ok {
			dst = filepath.Join(outDir, p.Module+"@"+m.Version)
			if err := copyTree(m.Dir, dst); err != nil {
				return "", fmt.Errorf("lab/patches/%s: copying %s@%s: %w", p.Name, p.Module, m.Version, err)
			}
			copies[p.Module] = dst
		}
		for _, f := range p.Files {
			file := filepath.Join(dst, filepath.FromSlash(f))
			if other, dup := changed[file]; dup {
				return "", fmt.Errorf("lab/patches/%s: lab/patches/%s changes %s@%s's %s too; merge them", p.Name, other, p.Module, m.Version, f)
			}
			changed[file] = p.Name
		}
		if err := p.Apply(dst); err != nil {
			return "", &ApplyError{Patch: p, Module: p.Module + "@" + m.Version, Err: err}
		}
	}
	modFile := filepath.Join(outDir, "go.mod")
	if err := copyFile(filepath.Join(dir, "go.mod"), modFile); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(dir, "go.sum"), filepath.Join(outDir, "go.sum")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	args := []string{"mod", "edit", "-modfile=" + modFile}
	for mod, dst := range copies {
		args = append(args, "-replace="+mod+"="+dst)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go mod edit: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return modFile, nil
}

// copyTree copies the directory src to dst (which must not exist yet):
// directories and regular files, writable.
func copyTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return nil // the module cache holds no others
		}
	})
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
