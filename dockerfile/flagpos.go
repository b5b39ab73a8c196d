package dockerfile

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"
)

// flagSpan is where one flag of an instruction stands in the lines it was
// parsed from: bytes [Start, End) of the 0-based line Line. Split is set
// instead when the flag continues on another line.
type flagSpan struct {
	Line, Start, End int
	Split            bool
}

// segment is the part of a source line that BuildKit's parser joins into
// an instruction: the instruction's bytes [Off, Off+Len) are bytes
// [Col, Col+Len) of the 0-based line Line.
type segment struct {
	Line, Col, Off, Len int
}

// locateFlags finds each of n's flags in lines, the text n was parsed from
// with the escape character escape. It reads the instruction as BuildKit's
// parser does (parser.Parse, splitCommand, extractBuilderFlags): comment
// and empty lines inside it are skipped, and a line ends in the escape
// character to continue. So a comment that repeats a flag's text is never
// taken for the flag. It returns one span per flag of n.Flags, in order,
// and fails when what it reads is not what the parser read.
func locateFlags(lines []string, n *parser.Node, escape rune) ([]flagSpan, error) {
	if escape != '\\' && escape != '`' {
		return nil, errors.Errorf("escape character %q is neither \\ nor `", escape)
	}
	segs, text := joinLines(lines, n.StartLine-1, continuation(escape))
	if text != n.Original {
		return nil, errors.Errorf("cannot read the instruction on line %d as BuildKit's parser did", n.StartLine)
	}
	words, starts, ends := builderFlags(text, escape)
	if len(words) != len(n.Flags) {
		return nil, errors.Errorf("found %d flags on line %d, BuildKit's parser %d", len(words), n.StartLine, len(n.Flags))
	}
	spans := make([]flagSpan, len(words))
	for i, w := range words {
		if w != n.Flags[i] {
			return nil, errors.Errorf("found flag %q on line %d, BuildKit's parser %q", w, n.StartLine, n.Flags[i])
		}
		first, last := segmentAt(segs, starts[i]), segmentAt(segs, ends[i]-1)
		if first != last {
			spans[i] = flagSpan{Split: true}
			continue
		}
		s := segs[first]
		spans[i] = flagSpan{Line: s.Line, Start: s.Col + starts[i] - s.Off, End: s.Col + ends[i] - s.Off}
	}
	return spans, nil
}

// continuation is BuildKit's parser's test for a line continued with
// escape: escape at the end of the line, after any other character or
// alone, then blanks.
func continuation(escape rune) *regexp.Regexp {
	e := regexp.QuoteMeta(string(escape))
	return regexp.MustCompile(`([^` + e + `])` + e + `[ \t]*$|^` + e + `[ \t]*$`)
}

// joinLines joins the lines of the instruction that starts on the 0-based
// line start as BuildKit's parser does, and says where each part came from.
func joinLines(lines []string, start int, cont *regexp.Regexp) ([]segment, string) {
	var segs []segment
	var b strings.Builder
	for i := start; i >= 0 && i < len(lines); i++ {
		l, col := lines[i], 0
		if i == 0 {
			// The parser drops a byte-order mark at the start of the file.
			if t, ok := strings.CutPrefix(l, "\uFEFF"); ok {
				l, col = t, len(l)-len(t)
			}
		}
		if i == start {
			t := strings.TrimLeftFunc(l, unicode.IsSpace)
			l, col = t, col+len(l)-len(t)
		} else if isSourceComment(l) || strings.TrimLeftFunc(strings.TrimRight(l, "\r"), unicode.IsSpace) == "" {
			continue
		}
		l = strings.TrimRight(l, "\r")
		kept, more := l, false
		if m := cont.FindStringSubmatchIndex(l); m != nil {
			kept, more = l[:m[0]], true
			if m[2] >= 0 {
				kept = l[:m[3]]
			}
		}
		segs = append(segs, segment{Line: i, Col: col, Off: b.Len(), Len: len(kept)})
		b.WriteString(kept)
		if !more {
			break
		}
	}
	return segs, b.String()
}

// isSourceComment is BuildKit's parser's test for a comment line.
func isSourceComment(l string) bool {
	return strings.HasPrefix(strings.TrimLeftFunc(l, unicode.IsSpace), "#")
}

// segmentAt is the index of the segment that holds byte off of the
// instruction.
func segmentAt(segs []segment, off int) int {
	for i, s := range segs {
		if off >= s.Off && off < s.Off+s.Len {
			return i
		}
	}
	return -1
}

// cmdSpace is where BuildKit's splitCommand ends an instruction's keyword.
var cmdSpace = regexp.MustCompile(`[\t\v\f\r ]+`)

// builderFlags reads the flags of an instruction as BuildKit's
// splitCommand and extractBuilderFlags do, byte by byte, and returns each
// with its start and end in line.
func builderFlags(line string, escape rune) (words []string, starts, ends []int) {
	trimmed := strings.TrimSpace(line)
	lead := len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
	m := cmdSpace.FindStringIndex(trimmed)
	if m == nil {
		return nil, nil, nil
	}
	base := lead + m[1]
	args := trimmed[m[1]:]

	const (
		inSpaces = iota
		inWord
		inQuote
	)
	phase, start := inSpaces, 0
	var quote rune
	blankOK := false
	var sb strings.Builder
	add := func(end int) {
		words, starts, ends = append(words, sb.String()), append(starts, base+start), append(ends, base+end)
	}
	var ch rune
	for pos := 0; pos <= len(args); pos++ {
		if pos != len(args) {
			ch = rune(args[pos])
		}
		if phase == inSpaces {
			if pos == len(args) {
				break
			}
			if unicode.IsSpace(ch) {
				continue
			}
			if ch != '-' || pos+1 == len(args) || args[pos+1] != '-' {
				return words, starts, ends
			}
			phase, start = inWord, pos
		}
		if (phase == inWord || phase == inQuote) && pos == len(args) {
			if w := sb.String(); w != "--" && (blankOK || len(w) > 0) {
				add(pos)
			}
			break
		}
		if phase == inWord {
			if unicode.IsSpace(ch) {
				phase = inSpaces
				if sb.String() == "--" {
					return words, starts, ends
				}
				if blankOK || sb.Len() > 0 {
					add(pos)
				}
				sb.Reset()
				blankOK = false
				continue
			}
			if ch == '\'' || ch == '"' {
				quote, blankOK, phase = ch, true, inQuote
				continue
			}
			if ch == escape {
				if pos+1 == len(args) {
					continue
				}
				pos++
				ch = rune(args[pos])
			}
			sb.WriteRune(ch)
			continue
		}
		if phase == inQuote {
			if ch == quote {
				phase = inWord
				continue
			}
			if ch == escape {
				if pos+1 == len(args) {
					phase = inWord
					continue
				}
				pos++
				ch = rune(args[pos])
			}
			sb.WriteRune(ch)
		}
	}
	return words, starts, ends
}
