package dockerfile

import (
	"bytes"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// The rewrite's invariant, checked by BuildKit's own parser: the rewritten
// Dockerfile has exactly the user's instructions, each SDK line replaced
// by exactly what the design gives it, whose values, as BuildKit reads
// them, are the typed values of its binding:
//
//	SDK ...            -> COPY --from=<context> ["/*", ["/${VAR}"...,] "<dest>/"]
//	                      ENV PATH="<dest>/bin:${PATH:-<defaultPath>}"
//	RUN --mount=type=sdk,...  -> the same RUN, that flag replaced by
//	                      --mount=type=bind,from=<context>,target=<dest>[,source=<source>]

// safePath is the test's own statement of what a written path may be.
var safePath = regexp.MustCompile(`^/[A-Za-z0-9/._+@~-]*$`)

// checkRewrite checks that rw, the rewrite of f for uses bound by bind,
// keeps the invariant.
func checkRewrite(t *testing.T, f *File, uses []*Use, bind func(*Use) Binding, rw *Rewrite) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\n--- user's\n%s\n--- rewritten\n%s", fmt.Sprintf(format, args...), f.Text, rw.Data)
	}
	if len(rw.Lines) != strings.Count(string(rw.Data), "\n")+1 {
		fail("line map has %d entries for %d lines", len(rw.Lines), strings.Count(string(rw.Data), "\n")+1)
	}
	userLines := bytes.Count(f.Data, []byte("\n")) + 1
	for l := 1; l <= len(rw.Lines); l++ {
		if ul := rw.UserLine(l); ul < 1 || ul > userLines {
			fail("rewritten line %d maps to line %d of a %d-line file", l, ul, userLines)
		}
	}
	if f.AST == nil {
		if len(uses) != 0 || !bytes.Equal(rw.Data, f.Text) {
			fail("a Dockerfile that does not parse has %d uses, or is rewritten", len(uses))
		}
		return
	}
	res, err := parser.Parse(bytes.NewReader(rw.Data))
	if err != nil {
		fail("the rewrite does not parse: %v", err)
	}
	if res.EscapeToken != f.AST.EscapeToken {
		fail("escape token %q, the user's is %q", res.EscapeToken, f.AST.EscapeToken)
	}
	byNode := map[*parser.Node][]*Use{}
	for _, u := range uses {
		byNode[u.Node] = append(byNode[u.Node], u)
	}
	lex := shell.NewLex(res.EscapeToken)
	got := res.AST.Children
	j := 0
	// next is the next rewritten instruction, which must stand on the
	// user's line of n, or the line after for an SDK's ENV.
	next := func(what string, n *parser.Node) *parser.Node {
		t.Helper()
		if j >= len(got) {
			fail("the rewrite ends where %s for line %d should be", what, n.StartLine)
		}
		g := got[j]
		j++
		want := f.UserLine(n.StartLine)
		if what == "the ENV" && n.EndLine > n.StartLine {
			want = f.UserLine(n.StartLine + 1)
		}
		if rw.UserLine(g.StartLine) != want {
			fail("rewritten line %d (%q) maps to line %d, want %d", g.StartLine, g.Original, rw.UserLine(g.StartLine), want)
		}
		return g
	}
	for _, n := range f.AST.AST.Children {
		us := byNode[n]
		switch {
		case len(us) == 1 && !us[0].Mount:
			b := bind(us[0])
			checkCopy(t, fail, lex, next("the COPY", n), b)
			checkEnv(t, fail, lex, next("the ENV", n), b)
		case len(us) > 0:
			g := next("the RUN", n)
			if g.Value != n.Value || dumpWithoutFlags(g) != dumpWithoutFlags(n) ||
				!reflect.DeepEqual(g.Heredocs, n.Heredocs) || !reflect.DeepEqual(g.Attributes, n.Attributes) {
				fail("line %d: %s became %s", n.StartLine, n.Dump(), g.Dump())
			}
			want := slices.Clone(n.Flags)
			k := 0
			for i, fl := range want {
				if k < len(us) && fl == us[k].Flag {
					want[i] = wantMountFlag(us[k], bind(us[k]))
					checkMount(t, fail, lex, want[i], us[k], bind(us[k]))
					k++
				}
			}
			if k != len(us) || !slices.Equal(g.Flags, want) {
				fail("line %d: flags %q, want %q", n.StartLine, g.Flags, want)
			}
		default:
			g := next("the user's instruction", n)
			if g.Dump() != n.Dump() || g.Original != n.Original || !reflect.DeepEqual(g.Heredocs, n.Heredocs) ||
				!reflect.DeepEqual(g.Attributes, n.Attributes) {
				fail("line %d: %s became %s", n.StartLine, n.Dump(), g.Dump())
			}
		}
	}
	if j != len(got) {
		fail("the rewrite has %d instructions more than the design gives, from %q", len(got)-j, got[j].Original)
	}
	for _, g := range got {
		if strings.EqualFold(g.Value, "sdk") || strings.EqualFold(g.Value, "run") && slices.ContainsFunc(g.Flags, isSDKMount) {
			fail("an SDK line is left: %q", g.Original)
		}
	}
}

// dumpWithoutFlags is n's dump, flags left out.
func dumpWithoutFlags(n *parser.Node) string {
	c := *n
	c.Flags = nil
	return c.Dump()
}

// wantDest checks the binding's directory against the test's own
// statement of a safe path, and returns it.
func wantDest(t *testing.T, fail func(string, ...any), b Binding) string {
	t.Helper()
	d := b.Dest.String()
	if !safePath.MatchString(d) || path.Clean(d) != d || b.Context.check() != nil {
		fail("binding %+v has an unsafe directory or context", b)
	}
	return d
}

// parsed parses one generated instruction with BuildKit's instructions
// package, and expands it with expand, as BuildKit's converter does.
func parsed(t *testing.T, fail func(string, ...any), n *parser.Node, expand instructions.SingleWordExpander) any {
	t.Helper()
	cmd, err := instructions.ParseInstructionWithLinter(n, quiet())
	if err != nil {
		fail("generated %q does not parse: %v", n.Original, err)
	}
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := ex.Expand(expand); err != nil {
			fail("generated %q does not expand: %v", n.Original, err)
		}
	}
	return cmd
}

func identity(s string) (string, error) { return s, nil }

// lexed expands words as BuildKit does, with env.
func lexed(lex *shell.Lex, env ...string) instructions.SingleWordExpander {
	return func(s string) (string, error) {
		w, _, err := lex.ProcessWord(s, shell.EnvsFromSlice(env))
		return w, err
	}
}

// checkCopy checks an SDK instruction's COPY.
func checkCopy(t *testing.T, fail func(string, ...any), lex *shell.Lex, g *parser.Node, b Binding) {
	t.Helper()
	dest := wantDest(t, fail, b)
	srcs := []string{"/*"}
	for _, k := range b.Keep {
		srcs = append(srcs, "/${"+k.String()+"}")
	}
	wantDest := strings.TrimSuffix(dest, "/") + "/"
	expanders := []instructions.SingleWordExpander{identity}
	if len(b.Keep) == 0 {
		expanders = append(expanders, lexed(lex))
	}
	for _, ex := range expanders {
		cp, ok := parsed(t, fail, g, ex).(*instructions.CopyCommand)
		if !ok {
			fail("line %d is %q, not the SDK's COPY", g.StartLine, g.Original)
		}
		want := instructions.CopyCommand{SourcesAndDest: instructions.SourcesAndDest{DestPath: wantDest, SourcePaths: srcs}, From: b.Context.String()}
		if !reflect.DeepEqual(cp.SourcesAndDest, want.SourcesAndDest) || cp.From != want.From || cp.Chown != "" || cp.Chmod != "" ||
			cp.Link || cp.Parents || len(cp.ExcludePatterns) != 0 || len(g.Flags) != 1 {
			fail("COPY %q reads as %+v, want %+v", g.Original, *cp, want)
		}
	}
}

// checkEnv checks an SDK instruction's ENV PATH, expanded with PATH unset
// and set.
func checkEnv(t *testing.T, fail func(string, ...any), lex *shell.Lex, g *parser.Node, b Binding) {
	t.Helper()
	bin := path.Join(wantDest(t, fail, b), "bin")
	for _, c := range []struct{ env, want string }{{"", bin + ":" + defaultPath}, {"PATH=/base", bin + ":/base"}} {
		var env []string
		if c.env != "" {
			env = []string{c.env}
		}
		cmd, ok := parsed(t, fail, g, lexed(lex, env...)).(*instructions.EnvCommand)
		if !ok || len(cmd.Env) != 1 || cmd.Env[0].Key != "PATH" || cmd.Env[0].Value != c.want || len(g.Flags) != 0 {
			fail("ENV %q with %q reads as %+v, want PATH=%s", g.Original, c.env, cmd, c.want)
		}
	}
}

// wantMountFlag is the flag the design gives an sdk mount.
func wantMountFlag(u *Use, b Binding) string {
	fl := "--mount=type=bind,from=" + b.Context.String() + ",target=" + b.Dest.String()
	if src := wantSource(u, b); src != "" {
		fl += ",source=" + src
	}
	return fl
}

func wantSource(u *Use, b Binding) string {
	if len(b.Keep) > 0 {
		var refs []string
		for _, k := range b.Keep {
			refs = append(refs, "${"+k.String()+"}")
		}
		return "/" + strings.Join(refs, "/")
	}
	return u.Subpath.String()
}

// checkMount parses a generated mount flag as BuildKit does, and checks
// that it is the one bind mount of the binding's values.
func checkMount(t *testing.T, fail func(string, ...any), lex *shell.Lex, flag string, u *Use, b Binding) {
	t.Helper()
	dest := wantDest(t, fail, b)
	src := wantSource(u, b)
	if len(b.Keep) == 0 && src != "" && (!safePath.MatchString("/"+src) || path.Clean(src) != src) {
		fail("source %q is unsafe", src)
	}
	expanders := []instructions.SingleWordExpander{identity}
	if len(b.Keep) == 0 {
		expanders = append(expanders, lexed(lex))
	}
	for _, ex := range expanders {
		n := &parser.Node{Value: "run", Original: "RUN " + flag + " true", Flags: []string{flag}, Next: &parser.Node{Value: "true"}}
		run, ok := parsed(t, fail, n, ex).(*instructions.RunCommand)
		if !ok {
			fail("%q is no RUN", n.Original)
		}
		ms := instructions.GetMounts(run)
		want := instructions.Mount{Type: instructions.MountTypeBind, From: b.Context.String(), Target: dest, Source: src, ReadOnly: true}
		if len(ms) != 1 || !reflect.DeepEqual(*ms[0], want) {
			fail("%s reads as %d mounts %+v, want %+v", flag, len(ms), ms, want)
		}
	}
}
