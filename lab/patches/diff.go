package main

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Patch is one lab/patches/*.patch file: a preamble of "Key: value" lines
// and prose (why the patch exists, how to drop it), then a unified diff
// whose paths are relative to Module's root.
type Patch struct {
	Name     string // the file's base name
	Module   string // the module the diff applies to, from "Module:"
	Preamble string // everything before the diff
	Files    []FileDiff
}

// FileDiff is the part of a unified diff that changes one file.
type FileDiff struct {
	Path  string // slash-separated, relative to the module root ("a/" dropped)
	Hunks []Hunk
}

// Hunk is one "@@ -l,n +l,n @@" block of a FileDiff.
type Hunk struct {
	Header  string // the "@@ ... @@" line
	OldLine int    // where the old text starts (1-based), as the header says
	Old     []string
	New     []string
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// ParsePatch parses a patch file. It accepts only what lab/patches needs:
// "--- a/PATH" / "+++ b/PATH" pairs naming the same relative path, hunks
// whose line counts match their headers, and a "Module:" preamble line.
func ParsePatch(name string, data []byte) (*Patch, error) {
	p := &Patch{Name: name}
	lines := strings.SplitAfter(string(data), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
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
	for i < len(lines) {
		line := strings.TrimSuffix(lines[i], "\n")
		if !strings.HasPrefix(line, "--- ") {
			return nil, fmt.Errorf("%s:%d: want a \"--- a/PATH\" line, got %q", name, i+1, line)
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
		f := FileDiff{Path: oldPath}
		i += 2
		for i < len(lines) && strings.HasPrefix(lines[i], "@@ ") {
			h, next, err := parseHunk(name, lines, i)
			if err != nil {
				return nil, err
			}
			f.Hunks = append(f.Hunks, h)
			i = next
		}
		if len(f.Hunks) == 0 {
			return nil, fmt.Errorf("%s: %s has no hunks", name, f.Path)
		}
		p.Files = append(p.Files, f)
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

// parseHunk parses the hunk whose header is lines[i]; it returns the
// index of the line after it.
func parseHunk(name string, lines []string, i int) (Hunk, int, error) {
	header := strings.TrimSuffix(lines[i], "\n")
	m := hunkHeader.FindStringSubmatch(header)
	if m == nil {
		return Hunk{}, 0, fmt.Errorf("%s:%d: bad hunk header %q", name, i+1, header)
	}
	count := func(s string) int {
		if s == "" {
			return 1
		}
		n, _ := strconv.Atoi(s) // the pattern allows digits only
		return n
	}
	start, _ := strconv.Atoi(m[1])
	h := Hunk{Header: header, OldLine: start}
	oldN, newN := count(m[2]), count(m[4])
	j := i + 1
	for ; j < len(lines) && (len(h.Old) < oldN || len(h.New) < newN); j++ {
		line := lines[j]
		if line == "" || line == "\n" {
			return Hunk{}, 0, fmt.Errorf("%s:%d: empty line in a hunk (a context line starts with a space)", name, j+1)
		}
		text := line[1:]
		switch line[0] {
		case ' ':
			h.Old, h.New = append(h.Old, text), append(h.New, text)
		case '-':
			h.Old = append(h.Old, text)
		case '+':
			h.New = append(h.New, text)
		default:
			return Hunk{}, 0, fmt.Errorf("%s:%d: hunk line starts with %q, not ' ', '-' or '+'", name, j+1, line[0])
		}
	}
	if len(h.Old) != oldN || len(h.New) != newN {
		return Hunk{}, 0, fmt.Errorf("%s:%d: hunk %s has %d old and %d new lines", name, i+1, header, len(h.Old), len(h.New))
	}
	return h, j, nil
}

// ErrAlreadyApplied says a hunk's old text is gone but its new text is
// there: the file already has the change (upstream made it, perhaps).
var ErrAlreadyApplied = errors.New("already applied")

// Apply applies the hunks of f to src, each exactly once: a hunk's old
// text (context and removed lines) must occur exactly once in src,
// wherever upstream moved it, or Apply fails naming the hunk.
func (f FileDiff) Apply(src []byte) ([]byte, error) {
	out := src
	for _, h := range f.Hunks {
		old, repl := []byte(strings.Join(h.Old, "")), []byte(strings.Join(h.New, ""))
		switch n := countLines(out, old); {
		case n == 1:
			at := indexLines(out, old)
			out = append(out[:at:at], append(repl, out[at+len(old):]...)...)
		case n > 1:
			return nil, fmt.Errorf("%s: hunk %s matches %d places", f.Path, h.Header, n)
		case len(repl) > 0 && countLines(out, repl) == 1:
			return nil, fmt.Errorf("%s: hunk %s: %w", f.Path, h.Header, ErrAlreadyApplied)
		default:
			return nil, fmt.Errorf("%s: hunk %s: its old text (%d lines from line %d) is not in the file", f.Path, h.Header, len(h.Old), h.OldLine)
		}
	}
	return out, nil
}

// countLines counts the occurrences of block in src that start at the
// start of a line.
func countLines(src, block []byte) int {
	n := 0
	for off := 0; ; {
		i := indexLines(src[off:], block)
		if i < 0 {
			return n
		}
		n++
		off += i + 1
	}
}

// indexLines is the first occurrence of block in src that starts at the
// start of a line, or -1.
func indexLines(src, block []byte) int {
	for off := 0; off <= len(src); {
		i := bytes.Index(src[off:], block)
		if i < 0 {
			return -1
		}
		if at := off + i; at == 0 || src[at-1] == '\n' {
			return at
		}
		off += i + 1
	}
	return -1
}
