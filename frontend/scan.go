package frontend

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/pkg/errors"
)

// stage is what scanning learns of one FROM: enough to work out the
// platform its SDKs are for.
type stage struct {
	name     string
	platform string // the FROM --platform flag, unexpanded; "" if none
	parent   int    // index of the stage it is built FROM, or -1
}

// scanResult is every SDK directive in a Dockerfile, in order.
type scanResult struct {
	uses   []*use
	stages []stage
	meta   *vars // global ARGs, for expanding FROM --platform
}

// scan walks the parsed Dockerfile and collects its SDK directives. It keeps
// ARG and ENV in scope the way BuildKit's converter does, so that build args
// expand in SDK references and options exactly as they would in RUN:
// global ARGs are visible in a stage only once it declares them, build args
// override defaults, ENV wins over ARG, and a stage built FROM another
// inherits its ENV. auto holds the automatic platform args (TARGETARCH, ...).
func scan(res *parser.Result, buildArgs, auto map[string]string) (*scanResult, error) {
	lex := shell.NewLex(res.EscapeToken)
	out := &scanResult{meta: newVars()}
	for k, v := range auto {
		out.meta.set(k, v)
	}
	var cur *scope // the current stage's variables; nil before the first FROM
	var envs []*vars

	expand := func(s string, in shell.EnvGetter) (string, error) {
		w, _, err := lex.ProcessWord(s, in)
		return w, err
	}

	for _, n := range res.AST.Children {
		loc := func(err error) error { return parser.WithLocation(err, n.Location()) }
		switch strings.ToLower(n.Value) {
		case "from":
			st := stage{parent: -1}
			for _, f := range n.Flags {
				if v, ok := strings.CutPrefix(f, "--platform="); ok {
					st.platform = v
				}
			}
			cur = &scope{env: newVars(), args: newVars()}
			if n.Next != nil {
				base, err := expand(n.Next.Value, out.meta)
				if err != nil {
					return nil, loc(err)
				}
				for i, prev := range out.stages {
					if prev.name != "" && strings.EqualFold(prev.name, base) {
						st.parent, cur.env = i, envs[i].clone()
					}
				}
				if as := n.Next.Next; as != nil && strings.EqualFold(as.Value, "as") && as.Next != nil {
					st.name = as.Next.Value
				}
			}
			out.stages = append(out.stages, st)
			envs = append(envs, cur.env)

		case "arg":
			cmd, err := instructions.ParseInstruction(n)
			if err != nil {
				return nil, loc(err)
			}
			ac, ok := cmd.(*instructions.ArgCommand)
			if !ok {
				continue
			}
			for _, kv := range ac.Args {
				var in shell.EnvGetter = out.meta
				set := out.meta
				if cur != nil {
					in, set = cur, cur.args
				}
				val, has := buildArgs[kv.Key]
				if !has && kv.Value != nil {
					if val, err = expand(*kv.Value, in); err != nil {
						return nil, loc(err)
					}
					has = true
				}
				if cur != nil && !has {
					val, has = out.meta.Get(kv.Key)
				}
				if has {
					set.set(kv.Key, val)
				}
			}

		case "env":
			if cur == nil {
				continue
			}
			cmd, err := instructions.ParseInstruction(n)
			if err != nil {
				return nil, loc(err)
			}
			if ec, ok := cmd.(*instructions.EnvCommand); ok {
				for _, kv := range ec.Env {
					val, err := expand(kv.Value, cur)
					if err != nil {
						return nil, loc(err)
					}
					cur.env.set(kv.Key, val)
				}
			}

		case "sdk":
			if cur == nil {
				return nil, loc(errors.New("SDK must follow a FROM: it installs into a build stage"))
			}
			rest := strings.TrimSpace(n.Original)
			if i := strings.IndexAny(rest, " \t"); i >= 0 {
				rest = rest[i:]
			} else {
				rest = ""
			}
			// Split first, then expand each word: ProcessWords drops the
			// text before a ${VAR:-default}.
			var words []string
			for _, w := range splitWords(rest, res.EscapeToken) {
				w, err := expand(w, cur)
				if err != nil {
					return nil, loc(errors.Wrap(err, "SDK"))
				}
				words = append(words, w)
			}
			u, err := parseSDKArgs(words)
			if err != nil {
				return nil, loc(err)
			}
			u.stage, u.line, u.node = len(out.stages)-1, n.StartLine, n
			out.uses = append(out.uses, u)

		case "run":
			for _, f := range n.Flags {
				if !isSDKMount(f) {
					continue
				}
				if cur == nil {
					return nil, loc(errors.New("RUN must follow a FROM"))
				}
				u, err := parseSDKMount(f, func(s string) (string, error) { return expand(s, cur) })
				if err != nil {
					return nil, loc(err)
				}
				u.stage, u.line, u.node = len(out.stages)-1, n.StartLine, n
				out.uses = append(out.uses, u)
			}
		}
	}
	return out, nil
}
