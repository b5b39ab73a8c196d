package dockerfile

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"
)

// Parser directives sdkfront reads, next to BuildKit's own.
const (
	DirectiveSource = "sdk-source"
	DirectiveFlavor = "sdk-flavor"
)

// buildkitDirectives are the parser directives BuildKit v0.34 knows
// (parser/directives.go). BuildKit stops reading directives at the first
// comment that is not one of them, so an sdk-* directive placed before
// them would hide them; sdkfront moves its own after BuildKit's.
var buildkitDirectives = map[string]bool{"syntax": true, "escape": true, "check": true}

// directiveLine is a "# key=value" line. Keys may contain '-' so that
// sdk-* directives match; BuildKit's own regexp does not allow it.
var directiveLine = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.+?)\s*$`)

// Directive is one parser directive at the top of the Dockerfile.
type Directive struct {
	Key   string // lowercased
	Value string
	Line  int // 1-based line in the user's Dockerfile
}

// header is the parser directive block: the leading lines that are
// BuildKit's directives or sdkfront's.
type header struct {
	ours   []Directive // sdk-*, in order
	theirs []Directive // BuildKit's, in order
}

// hidden reports whether an sdk-* directive stands before one of
// BuildKit's, which BuildKit would then not see.
func (h header) hidden() (Directive, bool) {
	if len(h.ours) == 0 || len(h.theirs) == 0 {
		return Directive{}, false
	}
	if h.ours[0].Line < h.theirs[len(h.theirs)-1].Line {
		return h.ours[0], true
	}
	return Directive{}, false
}

// readHeader reads the directive block of lines. An unknown sdk-*
// directive or a repeated one is an error at its line.
func readHeader(lines []string) (header, error) {
	var h header
	seen := map[string]int{}
	for i, l := range lines {
		if i == 0 {
			l = string(bytes.TrimPrefix([]byte(l), []byte{0xEF, 0xBB, 0xBF}))
		}
		m := directiveLine.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			break
		}
		key := strings.ToLower(m[1])
		d := Directive{Key: key, Value: m[2], Line: i + 1}
		switch {
		case buildkitDirectives[key]:
			h.theirs = append(h.theirs, d)
			continue
		case !strings.HasPrefix(key, "sdk-"):
		case key != DirectiveSource && key != DirectiveFlavor:
			return h, parser.WithLocation(errors.Errorf("unknown parser directive %q: sdkfront knows %s and %s", key, DirectiveSource, DirectiveFlavor), lineRange(d.Line))
		default:
			if prev, dup := seen[key]; dup {
				return h, parser.WithLocation(errors.Errorf("only one %s parser directive can be used (the first is on line %d)", key, prev), lineRange(d.Line))
			}
			seen[key] = d.Line
			h.ours = append(h.ours, d)
			continue
		}
		break // a directive no one knows ends the block, as in BuildKit
	}
	return h, nil
}

func lineRange(line int) []parser.Range {
	return []parser.Range{{Start: parser.Position{Line: line}, End: parser.Position{Line: line}}}
}
