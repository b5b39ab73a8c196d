package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

// Stage is what scanning learns of one FROM: enough to work out the
// platform its SDKs are for.
type Stage struct {
	Name     string
	Platform string // the FROM --platform flag, unexpanded; "" if none
	Parent   int    // index of the stage it is built FROM, or -1
	// Base is the image a stage is built FROM, expanded; "" when it is
	// another stage or does not expand.
	Base string
}

// ScanOpts are the build's parameters that SDK lines may depend on.
type ScanOpts struct {
	BuildArgs map[string]string
	Build     ocispecs.Platform // the first build platform
	Target    ocispecs.Platform // the target platform being scanned for
	// TargetStage is the --target stage; "" means the last one.
	TargetStage string
	// Lenient goes on past a bad SDK line: it records the error in
	// Scan.Errors and a Use with Bad set, so that checks report every bad
	// line and still see the others.
	Lenient bool
}

// Scan is every SDK line of a Dockerfile, expanded for one target
// platform, in order.
type Scan struct {
	Uses   []*Use
	Stages []Stage
	// Errors are the bad SDK lines' errors, in a Lenient scan.
	Errors []error

	opts ScanOpts
	meta *vars // global ARGs and the automatic ones, for FROM --platform
	lex  *shell.Lex
}

// quiet is a linter that reports nothing: BuildKit's converter lints the
// Dockerfile itself. A nil linter is not safe to pass: ParseInstruction
// dereferences it when a "# check=" comment precedes an instruction.
func quiet() *linter.Linter { return linter.New(&linter.Config{}) }

// Scan collects the SDK lines, expanding build args in them the way
// BuildKit's converter expands them in RUN: global ARGs are visible in a
// stage only once it declares them, build args override defaults, ARG and
// ENV set the same environment (the later wins), and a stage built FROM
// another inherits that environment, ARGs included (TestScanExpandsLikeBuildKit
// runs a table through both). Only SDK lines
// can fail: an instruction sdkfront cannot interpret is skipped, and
// BuildKit's converter reports it.
func (f *File) Scan(o ScanOpts) (*Scan, error) {
	if f.AST == nil {
		return &Scan{opts: o, meta: newVars(), lex: shell.NewLex('\\')}, nil
	}
	res := f.AST
	lex := shell.NewLex(res.EscapeToken)
	out := &Scan{opts: o, meta: newVars(), lex: lex}
	for k, v := range autoArgs(o, lastStageName(res.AST)) {
		out.meta.set(k, v)
	}
	var cur *vars // the current stage's variables; nil before the first FROM
	var envs []*vars

	expand := func(s string, in shell.EnvGetter) (string, error) {
		w, _, err := lex.ProcessWord(s, in)
		return w, err
	}

	for _, n := range res.AST.Children {
		loc := func(err error) error { return parser.WithLocation(err, n.Location()) }
		switch strings.ToLower(n.Value) {
		case "from":
			st := Stage{Parent: -1}
			for _, fl := range n.Flags {
				if v, ok := strings.CutPrefix(fl, "--platform="); ok {
					st.Platform = v
				}
			}
			cur = newVars()
			if n.Next != nil {
				if base, err := expand(n.Next.Value, out.meta); err == nil {
					st.Base = base
					for i, prev := range out.Stages {
						if prev.Name != "" && strings.EqualFold(prev.Name, base) {
							st.Parent, cur, st.Base = i, envs[i].clone(), ""
						}
					}
				}
				if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
					st.Name = as.Next.Value
				}
			}
			out.Stages = append(out.Stages, st)
			envs = append(envs, cur)

		case "arg":
			cmd, err := instructions.ParseInstructionWithLinter(n, quiet())
			if err != nil {
				continue
			}
			ac, ok := cmd.(*instructions.ArgCommand)
			if !ok {
				continue
			}
			for _, kv := range ac.Args {
				set := out.meta
				if cur != nil {
					set = cur
				}
				val, has := o.BuildArgs[kv.Key]
				if !has && kv.Value != nil {
					v, err := expand(*kv.Value, set)
					if err != nil {
						continue
					}
					val, has = v, true
				}
				if cur != nil && !has {
					val, has = out.meta.Get(kv.Key)
				}
				if has && !nonEnvArgs[kv.Key] {
					set.set(kv.Key, val)
				}
			}

		case "env":
			if cur == nil {
				continue
			}
			cmd, err := instructions.ParseInstructionWithLinter(n, quiet())
			if err != nil {
				continue
			}
			if ec, ok := cmd.(*instructions.EnvCommand); ok {
				// Every value is expanded before any is set, as BuildKit
				// expands the whole instruction first.
				vals := make([]string, len(ec.Env))
				ok := true
				for i, kv := range ec.Env {
					var err error
					if vals[i], err = expand(kv.Value, cur); err != nil {
						ok = false
					}
				}
				for i, kv := range ec.Env {
					if ok {
						cur.set(kv.Key, vals[i])
					}
				}
			}

		case "sdk":
			u, err := func() (*Use, error) {
				if cur == nil {
					return nil, errors.New("SDK must follow a FROM: it installs into a build stage")
				}
				// Split first, then expand each word: ProcessWords drops
				// the text before a ${VAR:-default}.
				var words []string
				for _, w := range splitWords(instructionArgs(n), res.EscapeToken) {
					w, err := expand(w, cur)
					if err != nil {
						return nil, errors.Wrap(err, "SDK")
					}
					words = append(words, w)
				}
				return parseSDKArgs(words)
			}()
			if err != nil {
				if !o.Lenient {
					return nil, loc(err)
				}
				out.Errors = append(out.Errors, loc(err))
				u = &Use{Bad: true, Unpack: true}
			}
			u.Stage, u.Node, u.Index = len(out.Stages)-1, n, len(out.Uses)
			out.Uses = append(out.Uses, u)

		case "run":
			for i, fl := range n.Flags {
				if !isSDKMount(fl) {
					continue
				}
				u, err := func() (*Use, error) {
					if cur == nil {
						return nil, errors.New("RUN must follow a FROM")
					}
					return parseSDKMount(fl, func(s string) (string, error) { return expand(s, cur) })
				}()
				if err != nil {
					if !o.Lenient {
						return nil, loc(err)
					}
					out.Errors = append(out.Errors, loc(err))
					u = &Use{Bad: true, Mount: true, Unpack: true, Flag: fl}
				}
				u.Stage, u.Node, u.Index, u.flagIndex = len(out.Stages)-1, n, len(out.Uses), i
				out.Uses = append(out.Uses, u)
			}
		}
	}
	return out, nil
}

// instructionArgs is the text of an instruction after its keyword.
func instructionArgs(n *parser.Node) string {
	rest := strings.TrimSpace(n.Original)
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		return rest[i:]
	}
	return ""
}

// lastStageName is the name of the last FROM, which BuildKit builds when
// no --target is given.
func lastStageName(root *parser.Node) string {
	name := ""
	for _, n := range root.Children {
		if strings.EqualFold(n.Value, "from") {
			name = ""
			if n.Next != nil {
				if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
					name = as.Next.Value
				}
			}
		}
	}
	return name
}
