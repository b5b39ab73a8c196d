package frontend

import (
	"cmp"
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// lintRun is one build's lint: a linter for sdkfront's own rules,
// configured the way BuildKit configures its own (dockerfile2llb's
// newRuleLinter: the BUILDKIT_DOCKERFILE_CHECK build arg, else the
// "# check=" directive as BuildKit reads it), sdkfront's findings, and the
// findings BuildKit's builder warns. With "# check=error=true" the build
// fails once both have checked, naming every violated rule in one list:
// the builder is told not to fail on its own rules (builderOpts), or it
// would stop before sdkfront could add its.
type lintRun struct {
	lint *linter.Linter

	mu     sync.Mutex
	ours   []warning // sdkfront's findings, in the order found
	theirs []finding // BuildKit's builder's, as it warned them
}

// finding is a violated rule and the user's line it was found at (0: no
// line).
type finding struct {
	rule string
	line int
}

func newLintRun(f *dockerfile.File, bc *dockerui.Client) (*lintRun, error) {
	cfg := bc.LinterConfig
	if cfg == nil {
		v, _, _, _ := parser.ParseDirective("check", f.Text)
		c, err := linter.ParseLintOptions(v)
		if err != nil {
			return nil, errors.Wrap(err, "failed to parse check options")
		}
		cfg = c
	} else {
		c := *cfg
		cfg = &c
	}
	lr := &lintRun{}
	cfg.Warn = func(rule, description, url, msg string, location []parser.Range) {
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.ours = append(lr.ours, warning{rule, description, url, msg, location})
	}
	lr.lint = linter.New(cfg)
	return lr, nil
}

// note runs one of sdkfront's rules at a use, with the "# check="
// comments above its line applied.
func (lr *lintRun) note(u *dockerfile.Use, rule linter.LinterRuleI, msg string) {
	lr.lint.WithMergedConfigFromComments(u.Node.PrevComment).Run(rule, u.Location(), msg)
}

// warnings are sdkfront's findings so far.
func (lr *lintRun) warnings() []warning {
	if lr == nil {
		return nil
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return slices.Clone(lr.ours)
}

// keyLintArg is the build arg BuildKit's builder reads its check
// configuration from before the "# check=" directive.
const keyLintArg = "build-arg:BUILDKIT_DOCKERFILE_CHECK"

// ruleName is what a lint rule's name may be: BuildKit's and sdkfront's
// are all CamelCase words.
var ruleName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// builderOpts hands BuildKit's builder the check configuration sdkfront
// uses, as BUILDKIT_DOCKERFILE_CHECK (which BuildKit prefers to the
// directive), but without error=true: sdkfront fails the build itself,
// with every rule. Names that are no rule's are left out: skipping them
// or enabling them changes nothing, and they are the only ones that could
// hold BuildKit's separators.
func (lr *lintRun) builderOpts(opts map[string]string) {
	if lr == nil || !lr.lint.ReturnAsError {
		return
	}
	parts := []string{"error=false"}
	list := func(key string, all bool, rules map[string]struct{}) {
		if all {
			parts = append(parts, key+"=all")
			return
		}
		names := slices.DeleteFunc(slices.Sorted(maps.Keys(rules)), func(r string) bool { return !ruleName.MatchString(r) })
		if len(names) > 0 {
			parts = append(parts, key+"="+strings.Join(names, ","))
		}
	}
	list("skip", lr.lint.SkipAll, lr.lint.SkippedRules)
	list("experimental", lr.lint.ExperimentalAll, lr.lint.ExperimentalRules)
	opts[keyLintArg] = strings.Join(parts, ";")
}

// builderWarned records a warning of BuildKit's builder, whose every
// warning is a lint rule's, in linter.LintFormatShort: "Rule: message
// (line N)". opts are already on the user's lines.
func (lr *lintRun) builderWarned(msg string, opts client.WarnOpts) {
	if lr == nil {
		return
	}
	rule, _, ok := strings.Cut(msg, ": ")
	if !ok || !ruleName.MatchString(rule) {
		// Not in BuildKit's format: still a violation, named as it came.
		rule = msg
	}
	line := 0
	if len(opts.Range) > 0 {
		line = int(opts.Range[0].GetStart().GetLine())
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	lr.theirs = append(lr.theirs, finding{rule, line})
}

// err is the build's lint failure under "# check=error=true": every rule,
// sdkfront's and BuildKit's, that found something.
func (lr *lintRun) err() error {
	if lr == nil || !lr.lint.ReturnAsError {
		return nil
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	fs := slices.Clone(lr.theirs)
	for _, w := range lr.ours {
		fs = append(fs, finding{w.rule, w.line()})
	}
	return violation(fs)
}

// resultsError is the failure of "--call check" under "# check=error=true"
// when nothing else failed, as BuildKit's: the rules of every warning in
// results, with no location; nil if there is none.
func (lr *lintRun) resultsError(results *lint.LintResults) *lint.BuildError {
	if lr == nil || !lr.lint.ReturnAsError {
		return nil
	}
	var fs []finding
	for _, w := range results.Warnings {
		line := 0
		if len(w.Location.GetRanges()) > 0 {
			line = int(w.Location.Ranges[0].GetStart().GetLine())
		}
		fs = append(fs, finding{w.RuleName, line})
	}
	if err := violation(fs); err != nil {
		return &lint.BuildError{Message: err.Error()}
	}
	return nil
}

// violation is BuildKit's lint failure (linter.Linter.Error) for the rules
// of fs, or nil if there are none. BuildKit lists the rules in map order,
// which changes from run to run; sdkfront lists them by the first line each
// was found at, the order "--call check" prints the warnings in (a rule
// without a line first), and by name on the same line.
func violation(fs []finding) error {
	first := map[string]int{}
	for _, f := range fs {
		if l, ok := first[f.rule]; !ok || f.line < l {
			first[f.rule] = f.line
		}
	}
	if len(first) == 0 {
		return nil
	}
	rules := slices.SortedFunc(maps.Keys(first), func(a, b string) int {
		return cmp.Or(cmp.Compare(first[a], first[b]), strings.Compare(a, b))
	})
	return errors.Errorf("lint violation found for rules: %s", strings.Join(rules, ", "))
}

// warning is one finding of sdkfront's checks.
type warning struct {
	rule, description, url, msg string
	location                    []parser.Range
}

// line is the user's line the warning is at; 0 if none.
func (w warning) line() int {
	if len(w.location) == 0 {
		return 0
	}
	return w.location[0].Start.Line
}

// pendingChecks are findings waiting for their vertex.
type pendingChecks struct {
	vertex   digest.Digest
	source   *pb.SourceInfo
	warnings []warning
	solved   atomic.Bool
	once     sync.Once
}

// saw records that def, just solved, holds the vertex.
func (p *pendingChecks) saw(def *pb.Definition) {
	if p != nil && def != nil && slices.ContainsFunc(def.Def, func(dt []byte) bool { return digest.FromBytes(dt) == p.vertex }) {
		p.solved.Store(true)
	}
}

// flush sends the warnings, once, if their vertex was solved.
func (p *pendingChecks) flush(ctx context.Context, c client.Client) error {
	if p == nil || !p.solved.Load() {
		return nil
	}
	var err error
	p.once.Do(func() {
		for _, w := range p.warnings {
			opts := warnOpts(w.location, [][]byte{[]byte(w.description)}, w.url)
			opts.SourceInfo = p.source
			if err = c.Warn(ctx, p.vertex, linter.LintFormatShort(w.rule, w.msg, w.line()), opts); err != nil {
				return
			}
		}
	})
	return err
}

// warnOpts is builder.warnOpts, which BuildKit does not export.
func warnOpts(r []parser.Range, detail [][]byte, url string) client.WarnOpts {
	opts := client.WarnOpts{Level: 1, Detail: detail, URL: url}
	if r == nil {
		return opts
	}
	opts.Range = pbRanges(r)
	return opts
}

func pbRanges(rs []parser.Range) []*pb.Range {
	out := []*pb.Range{}
	for _, r := range rs {
		out = append(out, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
		})
	}
	return out
}
