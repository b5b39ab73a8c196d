package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Patch is one lab/patches/*.patch file: a preamble of "Key: value" lines
// and prose (why the patch exists, how to drop it), then a unified diff
// whose paths are relative to Module's root, applied by GNU patch.
type Patch struct {
	Name     string   // the file's base name
	Module   string   // the module the diff applies to, from "Module:"
	Preamble string   // everything before the diff
	Files    []string // the files the diff changes, slash-separated, relative to the module root
	Data     []byte   // the whole file, as patch(1) reads it
}

// ParsePatch parses a patch file's preamble and the paths of its diff; the
// hunks are patch(1)'s business. It accepts "--- a/PATH" / "+++ b/PATH"
// pairs naming the same relative path, and wants a "Module:" line.
func ParsePatch(name string, data []byte) (*Patch, error) {
	p := &Patch{Name: name, Data: data}
	lines := strings.SplitAfter(string(data), "\n")
	i := 0
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "--- "); i++ {
		if v, ok := strings.CutPrefix(lines[i], "Module:"); ok {
			p.Module = strings.TrimSpace(v)
		}
	}
	p.Preamble = strings.Join(lines[:i], "")
	if p.Module == "" {
		return nil, fmt.Errorf("%s: no \"Module:\" line before the diff", name)
	}
	for ; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\n")
		if !strings.HasPrefix(line, "--- ") {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "+++ ") {
			return nil, fmt.Errorf("%s:%d: \"---\" without \"+++\"", name, i+1)
		}
		oldPath, err := diffPath(strings.TrimPrefix(line, "--- "), "a/")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		newPath, err := diffPath(strings.TrimPrefix(strings.TrimSuffix(lines[i+1], "\n"), "+++ "), "b/")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+2, err)
		}
		if oldPath != newPath {
			return nil, fmt.Errorf("%s:%d: the diff renames %s to %s", name, i+1, oldPath, newPath)
		}
		p.Files = append(p.Files, oldPath)
		i++
	}
	if len(p.Files) == 0 {
		return nil, fmt.Errorf("%s: no diff (no \"--- a/PATH\" line)", name)
	}
	return p, nil
}

// diffPath is the path of a "---" or "+++" line, without its prefix and
// an optional tab-separated time stamp.
func diffPath(s, prefix string) (string, error) {
	s, _, _ = strings.Cut(s, "\t")
	rel, ok := strings.CutPrefix(s, prefix)
	if !ok || rel == "" || strings.HasPrefix(rel, "/") || strings.Contains("/"+rel+"/", "/../") {
		return "", fmt.Errorf("diff path %q is not %sRELATIVE/PATH", s, prefix)
	}
	return rel, nil
}

// ErrAlreadyApplied says the patch applies in reverse: the module already
// has the change (upstream made it, perhaps).
var ErrAlreadyApplied = errors.New("already applied")

// Apply patches the module copy in dir with GNU patch, all or nothing: a
// dry run first, no fuzz (every context line must match, wherever upstream
// moved the hunk), and no backup or reject files.
func (p *Patch) Apply(dir string) error {
	if _, err := exec.LookPath("patch"); err != nil {
		return errors.New("patch(1) not found: apt-get install patch (lab/lab.sh tools does)")
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command("patch", append([]string{"-p1", "--batch", "--fuzz=0", "--no-backup-if-mismatch", "-r", "-", "-d", dir}, args...)...)
		cmd.Stdin = bytes.NewReader(p.Data)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("--forward", "--dry-run"); err != nil {
		if _, rerr := run("--reverse", "--dry-run"); rerr == nil {
			return ErrAlreadyApplied
		}
		return fmt.Errorf("patch -p1 --fuzz=0: %w:\n%s", err, out)
	}
	if out, err := run("--forward"); err != nil {
		return fmt.Errorf("patch -p1 --fuzz=0: %w:\n%s", err, out)
	}
	return nil
}
