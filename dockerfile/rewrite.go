package dockerfile

import (
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
// records that. The text it writes comes from emit.go alone, made of the
// typed values of bind's Binding and of the use, checked again there.
func (f *File) Rewrite(uses []*Use, bind func(*Use) Binding) (*Rewrite, error) {
	in := strings.Split(string(f.Text), "\n")
	repl := make(map[int][]string) // 0-based line -> replacement lines
	rw := &Rewrite{}

	for _, u := range uses {
		b := bind(u)
		n := u.Node
		if u.Mount {
			i, edited, gen, raw, err := editMountFlag(in, n, u, b)
			if err != nil {
				return nil, parser.WithLocation(err, n.Location())
			}
			in[i] = edited
			rw.Names = append(rw.Names, [2]string{gen, raw})
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

// editMountFlag finds the --mount=type=sdk flag of u in the instruction's
// lines and replaces it with a bind mount of the SDK's context. It returns
// the line index, the edited line, and the generated and original flag text.
func editMountFlag(lines []string, n *parser.Node, u *Use, b Binding) (int, string, string, string, error) {
	gen, err := bindMountFlag(b, u.Subpath)
	if err != nil {
		return 0, "", "", "", errors.Wrapf(err, "sdk mount ref=%s", u.RefText)
	}
	for i := n.StartLine - 1; i < n.EndLine && i < len(lines); i++ {
		l := lines[i]
		for off := 0; ; {
			j := strings.Index(l[off:], "--mount=")
			if j < 0 {
				break
			}
			start := off + j
			end, unq := flagToken(l, start)
			if unq == u.Flag {
				return i, l[:start] + gen + l[end:], gen, l[start:end], nil
			}
			off = end
		}
	}
	return 0, "", "", "", errors.Errorf("cannot find %s on one line of the RUN instruction; keep each --mount=type=sdk flag on a single line", u.Flag)
}

// flagToken reads one flag starting at s[start], as BuildKit's parser splits
// flags: it ends at unquoted white space, and quotes are removed.
func flagToken(s string, start int) (end int, unquoted string) {
	var b strings.Builder
	var quote byte
	i := start
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			b.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == ' ' || c == '\t':
			return i, b.String()
		default:
			b.WriteByte(c)
		}
	}
	return i, b.String()
}
