package dockerfile

import (
	"bytes"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a Dockerfile as sdkfront reads it.
type File struct {
	// Data is the user's Dockerfile, as written.
	Data []byte
	// Text is what BuildKit gets when the SDK lines are left as they are:
	// Data with the sdk-* directives moved after BuildKit's, so that none
	// of BuildKit's is hidden. It is Data itself when nothing moved.
	Text []byte
	// AST is Text parsed by BuildKit's parser; nil when it does not parse
	// (BuildKit's builder then reports the error).
	AST *parser.Result
	// ParseErr is the parser's error, if any.
	ParseErr error

	header header
	lines  []int // Text line (0-based) -> Data line (1-based); nil: the same
	sdk    []*parser.Node
}

// Read reads a Dockerfile. It fails only for sdkfront's own directives;
// anything else wrong is left to BuildKit.
func Read(dt []byte) (*File, error) {
	f := &File{Data: dt, Text: dt}
	lines := strings.Split(string(dt), "\n")
	h, err := readHeader(lines)
	if err != nil {
		return nil, err
	}
	f.header = h
	if _, hidden := h.hidden(); hidden {
		// BuildKit's directives first, then sdkfront's, then the rest: only
		// the header's lines move, so every instruction keeps its line.
		var order []int
		for _, d := range h.theirs {
			order = append(order, d.Line)
		}
		for _, d := range h.ours {
			order = append(order, d.Line)
		}
		out := make([]string, 0, len(lines))
		f.lines = make([]int, 0, len(lines))
		for _, l := range order {
			out = append(out, lines[l-1])
			f.lines = append(f.lines, l)
		}
		for i := len(order); i < len(lines); i++ {
			out = append(out, lines[i])
			f.lines = append(f.lines, i+1)
		}
		f.Text = []byte(strings.Join(out, "\n"))
	}
	f.AST, f.ParseErr = parser.Parse(bytes.NewReader(f.Text))
	if f.ParseErr == nil {
		for _, n := range f.AST.AST.Children {
			if isSDKNode(n) {
				f.sdk = append(f.sdk, n)
			}
		}
	}
	return f, nil
}

// isSDKNode reports whether n is an SDK instruction or a RUN with an SDK
// mount.
func isSDKNode(n *parser.Node) bool {
	switch strings.ToLower(n.Value) {
	case "sdk":
		return true
	case "run":
		for _, fl := range n.Flags {
			if isSDKMount(fl) {
				return true
			}
		}
	}
	return false
}

// HasSDK reports whether the Dockerfile has SDK lines.
func (f *File) HasSDK() bool { return len(f.sdk) > 0 }

// Moved reports whether Text differs from Data: an sdk-* directive stood
// before one of BuildKit's.
func (f *File) Moved() bool { return f.lines != nil }

// Stock reports whether BuildKit's builder can take the Dockerfile as it
// is: no SDK lines and no directive to move.
func (f *File) Stock() bool { return !f.HasSDK() && !f.Moved() }

// Directive returns sdkfront's directive key, if the Dockerfile has it.
func (f *File) Directive(key string) (Directive, bool) {
	for _, d := range f.header.ours {
		if d.Key == key {
			return d, true
		}
	}
	return Directive{}, false
}

// UserLine maps a 1-based line of Text to the user's line.
func (f *File) UserLine(l int) int {
	if f.lines == nil || l < 1 || l > len(f.lines) {
		return l
	}
	return f.lines[l-1]
}
