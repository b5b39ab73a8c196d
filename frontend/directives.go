package frontend

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
)

// Parser directives sdkfront reads, next to BuildKit's own (syntax, escape,
// check). Like those, they are "# key=value" comments at the very top of
// the Dockerfile; the first line that is not one ends the directives.
const (
	directiveSource = "sdk-source"
	directiveFlavor = "sdk-flavor"
)

var directiveLine = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$`)

// directive is one parsed "# key=value" line.
type directive struct {
	value string
	line  int // 1-based
}

// parseDirectives returns the sdk-* directives of a Dockerfile by key.
func parseDirectives(dt []byte) map[string]directive {
	out := map[string]directive{}
	s := bufio.NewScanner(bytes.NewReader(dt))
	s.Buffer(make([]byte, 0, 64*1024), len(dt)+1)
	for n := 1; s.Scan(); n++ {
		m := directiveLine.FindStringSubmatch(strings.TrimSpace(s.Text()))
		if m == nil {
			break
		}
		key := strings.ToLower(m[1])
		if key == directiveSource || key == directiveFlavor {
			if _, dup := out[key]; !dup {
				out[key] = directive{value: m[2], line: n}
			}
		}
	}
	return out
}
