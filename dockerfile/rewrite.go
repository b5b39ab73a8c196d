package dockerfile

import (
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"
)

// Rewrite is the plain Dockerfile that BuildKit's builder gets, with a map
// back to the user's lines.
type Rewrite struct {
	Data []byte
	// Lines[i] is the user's 1-based line for rewritten line i+1.
	Lines []int
	// Names maps rewritten instruction text to the user's, for vertex
	// names: a name that contains Names[i][0] shows Names[i][1] from there
	// on, since BuildKit formats a COPY's arguments its own way.
	Names [][2]string
}

// UserLine maps a 1-based rewritten line to the user's.
func (rw *Rewrite) UserLine(l int) int {
	if l >= 1 && l <= len(rw.Lines) {
		return rw.Lines[l-1]
	}
	return l
}

// Rewrite replaces each SDK line with plain Dockerfile:
//
//	SDK golang@1.23            ->  COPY --from=<layer> ["/*", "/opt/golang/1.23.4/"]
//	                               ENV PATH="/opt/golang/1.23.4/bin:${PATH:-...}"
//	RUN --mount=type=sdk,...   ->  RUN --mount=type=bind,from=<ctx>,target=...
//
// It starts from Text, so BuildKit sees its own directives. Every other
// byte is kept, so the result lines up with the user's file line for line,
// except for one ENV line added after a one-line SDK instruction; Lines
// records that. A mount's flag is found where BuildKit's parser read it
// (locateFlags), never by its text, which a comment line inside the RUN
// may repeat; a flag that continues on another line is an error. The text
// it writes comes from emit.go alone, made of the typed values of bind's
// Binding and of the use, checked again there.
func (f *File) Rewrite(uses []*Use, bind func(*Use) Binding) (*Rewrite, error) {
	in := strings.Split(string(f.Text), "\n")
	repl := make(map[int][]string) // 0-based line -> replacement lines
	edits := make(map[int][]mountEdit)
	flags := make(map[*parser.Node][]flagSpan)
	escape := rune(parser.DefaultEscapeToken)
	if f.AST != nil {
		escape = f.AST.EscapeToken
	}
	rw := &Rewrite{}

	for _, u := range uses {
		b := bind(u)
		n := u.Node
		if u.Mount {
			spans, ok := flags[n]
			if !ok {
				var err error
				if spans, err = locateFlags(in, n, escape); err != nil {
					return nil, parser.WithLocation(errors.Wrap(err, "cannot locate the --mount=type=sdk flags"), n.Location())
				}
				flags[n] = spans
			}
			e, raw, err := editMountFlag(in, spans, u, b)
			if err != nil {
				return nil, parser.WithLocation(err, n.Location())
			}
			edits[e.line] = append(edits[e.line], e)
			rw.Names = append(rw.Names, [2]string{e.text, raw})
			continue
		}
		// The copy is made to unpack by sdkllb.Fuse once BuildKit's builder
		// has converted it.
		cp, err := copyInstruction(b)
		if err != nil {
			return nil, parser.WithLocation(errors.Wrapf(err, "SDK %s", u.RefText), n.Location())
		}
		env, err := pathEnvInstruction(b)
		if err != nil {
			return nil, parser.WithLocation(errors.Wrapf(err, "SDK %s", u.RefText), n.Location())
		}
		start, end := n.StartLine-1, n.EndLine-1
		if end > start {
			repl[start] = []string{cp}
			repl[start+1] = []string{env}
			for i := start + 2; i <= end; i++ {
				repl[i] = []string{""}
			}
		} else {
			repl[start] = []string{cp, env}
		}
		rw.Names = append(rw.Names, [2]string{"COPY --from=" + b.Context.String() + " ", strings.TrimSpace(n.Original)})
	}

	for i, es := range edits {
		l, err := applyEdits(in[i], es)
		if err != nil {
			return nil, parser.WithLocation(err, []parser.Range{{Start: parser.Position{Line: i + 1}, End: parser.Position{Line: i + 1}}})
		}
		in[i] = l
	}

	var out []string
	for i, l := range in {
		lines, ok := repl[i]
		if !ok {
			lines = []string{l}
		}
		for _, l := range lines {
			out = append(out, l)
			rw.Lines = append(rw.Lines, f.UserLine(i+1))
		}
	}
	rw.Data = []byte(strings.Join(out, "\n"))
	return rw, nil
}

// mountEdit replaces the bytes [start, end) of the 0-based line line with
// text.
type mountEdit struct {
	line, start, end int
	text             string
}

// editMountFlag is the edit that replaces u's --mount=type=sdk flag, found
// at spans[u.flagIndex] by locateFlags, with a bind mount of the SDK's
// context; raw is the flag as the user wrote it. It fails for a flag that
// does not stand on one line: the edit is of the flag BuildKit's parser
// read, or none.
func editMountFlag(lines []string, spans []flagSpan, u *Use, b Binding) (e mountEdit, raw string, err error) {
	gen, err := bindMountFlag(b, u.Subpath)
	if err != nil {
		return mountEdit{}, "", errors.Wrapf(err, "sdk mount ref=%s", u.RefText)
	}
	if u.flagIndex < 0 || u.flagIndex >= len(spans) || u.Node.Flags[u.flagIndex] != u.Flag {
		return mountEdit{}, "", errors.Errorf("cannot locate %s among the flags of the RUN instruction", u.Flag)
	}
	sp := spans[u.flagIndex]
	if sp.Split {
		return mountEdit{}, "", errors.Errorf("%s continues on another line; keep each --mount=type=sdk flag on a single line", u.Flag)
	}
	return mountEdit{line: sp.Line, start: sp.Start, end: sp.End, text: gen}, lines[sp.Line][sp.Start:sp.End], nil
}

// applyEdits makes the edits of one line, from its end, so that each
// edit's offsets hold. Edits that overlap are an error: each replaces a
// flag of its own.
func applyEdits(l string, es []mountEdit) (string, error) {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b mountEdit) int { return b.start - a.start })
	for i, e := range es {
		if i > 0 && e.end > es[i-1].start {
			return "", errors.Errorf("two sdk mounts edit the same bytes of line %d", e.line+1)
		}
		l = l[:e.start] + e.text + l[e.end:]
	}
	return l, nil
}
