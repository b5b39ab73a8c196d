// Command patches applies lab/patches/*.patch to copies of files in the Go
// module cache and writes the overlay that `go build -overlay` takes, so
// that lab/lab.sh tools can build a tool with a patched dependency without
// vendoring it:
//
//	go run ./lab/patches -C MODULE_DIR -o OUT_DIR PATCH...
//
// Each patch names its module ("Module: golang.org/x/net"); its version is
// the one MODULE_DIR's go.mod selects. The patched files and overlay.json
// land in OUT_DIR, and the path of overlay.json is printed. A patch that
// does not apply fails with the patch's own preamble: why it exists and how
// to drop it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	modDir := flag.String("C", ".", "the directory of the go.mod the tool is built with")
	outDir := flag.String("o", "", "where the patched files and overlay.json go (required)")
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
	overlay, err := WriteOverlay(patches, GoModules(*modDir), *outDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patches:", err)
		os.Exit(1)
	}
	fmt.Println(overlay)
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

// overlayJSON is the file `go build -overlay` reads.
type overlayJSON struct {
	Replace map[string]string
}

// WriteOverlay applies every patch to its module's files as mods finds
// them, writes the results under outDir (outDir/MODULE@VERSION/PATH) and
// outDir/overlay.json mapping each original file to its patched copy, and
// returns overlay.json's path. Two patches may not touch the same file.
func WriteOverlay(patches []*Patch, mods Modules, outDir string) (string, error) {
	ov := overlayJSON{Replace: map[string]string{}}
	for _, p := range patches {
		m, err := mods(p.Module)
		if err != nil {
			return "", fmt.Errorf("lab/patches/%s: %w", p.Name, err)
		}
		for _, f := range p.Files {
			orig := filepath.Join(m.Dir, filepath.FromSlash(f.Path))
			if _, dup := ov.Replace[orig]; dup {
				return "", fmt.Errorf("lab/patches/%s: another patch changes %s too; merge them", p.Name, orig)
			}
			src, err := os.ReadFile(orig)
			if err != nil {
				return "", &ApplyError{Patch: p, Module: p.Module + "@" + m.Version, Err: err}
			}
			out, err := f.Apply(src)
			if err != nil {
				return "", &ApplyError{Patch: p, Module: p.Module + "@" + m.Version, Err: err}
			}
			dst, err := filepath.Abs(filepath.Join(outDir, p.Module+"@"+m.Version, filepath.FromSlash(f.Path)))
			if err != nil {
				return "", err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return "", err
			}
			if err := os.WriteFile(dst, out, 0o644); err != nil {
				return "", err
			}
			ov.Replace[orig] = dst
		}
	}
	data, err := json.MarshalIndent(ov, "", "\t")
	if err != nil {
		return "", err
	}
	file, err := filepath.Abs(filepath.Join(outDir, "overlay.json"))
	if err != nil {
		return "", err
	}
	return file, os.WriteFile(file, append(data, '\n'), 0o644)
}
