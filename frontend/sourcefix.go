package frontend

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// sourceFix puts the user's Dockerfile back wherever BuildKit would show the
// rewritten one: source maps in definitions (read by the daemon for errors
// raised after the frontend returns), source errors, warnings and vertex
// names. Line numbers are mapped back through the rewrite's line map.
type sourceFix struct {
	orig    []byte
	origDef *pb.Definition // how the user's Dockerfile was read; nil if unknown
	rw      *dockerfile.Rewrite
}

func (f *sourceFix) ours(si *pb.SourceInfo) bool {
	return si != nil && si.Language == "Dockerfile" && bytes.Equal(si.Data, f.rw.Data)
}

func (f *sourceFix) line(l int32) int32 { return int32(f.rw.UserLine(int(l))) }

func (f *sourceFix) ranges(rs []*pb.Range) {
	for _, r := range rs {
		if r.Start != nil {
			r.Start.Line = f.line(r.Start.Line)
		}
		if r.End != nil {
			r.End.Line = f.line(r.End.Line)
		}
	}
}

// info patches a source info in place; it reports whether it was ours.
func (f *sourceFix) info(si *pb.SourceInfo) bool {
	if !f.ours(si) {
		return false
	}
	si.Data = f.orig
	if f.origDef != nil {
		si.Definition = f.origDef.CloneVT()
	}
	return true
}

// name turns a vertex name that shows rewritten text back into the user's.
func (f *sourceFix) name(s string) string {
	for _, p := range f.rw.Names {
		if i := strings.Index(s, p[0]); i >= 0 {
			if strings.HasPrefix(p[0], "COPY ") {
				return s[:i] + p[1]
			}
			s = s[:i] + p[1] + s[i+len(p[0]):]
		}
	}
	return s
}

// definition returns a copy of def that shows the user's Dockerfile.
func (f *sourceFix) definition(def *pb.Definition) *pb.Definition {
	if def == nil {
		return nil
	}
	def = def.CloneVT()
	if src := def.Source; src != nil {
		mine := map[int32]bool{}
		for i, si := range src.Infos {
			if f.info(si) {
				mine[int32(i)] = true
			}
		}
		for _, locs := range src.Locations {
			for _, l := range locs.GetLocations() {
				if mine[l.SourceIndex] {
					f.ranges(l.Ranges)
				}
			}
		}
	}
	for _, md := range def.Metadata {
		if n, ok := md.Description["llb.customname"]; ok {
			md.Description["llb.customname"] = f.name(n)
		}
		if pg := md.ProgressGroup; pg != nil {
			pg.Name = f.name(pg.Name)
		}
	}
	return def
}

// err patches every source error in err's chain.
func (f *sourceFix) err(err error) error {
	for e := err; e != nil; {
		var se *errdefs.SourceError
		if !errors.As(e, &se) {
			break
		}
		if se.Source != nil && f.info(se.Info) {
			f.ranges(se.Ranges)
		}
		e = se.Unwrap()
	}
	return err
}

// sources replaces the rewritten Dockerfile among a subrequest's sources
// with the user's, and reports which indexes it replaced.
func (f *sourceFix) sources(srcs [][]byte) map[int32]bool {
	mine := map[int32]bool{}
	for i, s := range srcs {
		if bytes.Equal(s, f.rw.Data) {
			srcs[i] = f.orig
			mine[int32(i)] = true
		}
	}
	return mine
}

// lintLine is the "(line N)" that BuildKit's builder appends to a lint
// warning (linter.LintFormatShort).
var lintLine = regexp.MustCompile(`\(line (\d+)\)$`)

// warn patches the message and the source of a warning.
func (f *sourceFix) warn(msg string, opts client.WarnOpts) (string, client.WarnOpts) {
	if opts.SourceInfo != nil && f.ours(opts.SourceInfo) {
		if m := lintLine.FindStringSubmatchIndex(msg); m != nil {
			if l, err := strconv.Atoi(msg[m[2]:m[3]]); err == nil {
				msg = fmt.Sprintf("%s(line %d)", msg[:m[0]], f.line(int32(l)))
			}
		}
		si := opts.SourceInfo.CloneVT()
		f.info(si)
		opts.SourceInfo = si
		rs := make([]*pb.Range, len(opts.Range))
		for i, r := range opts.Range {
			rs[i] = r.CloneVT()
		}
		f.ranges(rs)
		opts.Range = rs
	}
	return msg, opts
}

// withSource attaches the user's Dockerfile to an error that carries
// Dockerfile locations, so that it prints with the offending lines, the
// same way BuildKit prints a Dockerfile syntax error.
func withSource(err error, sm *llb.SourceMap) error {
	var le *parser.LocationError
	if sm == nil || !errors.As(err, &le) {
		return err
	}
	return errdefs.WithSource(err, sourceAt(sm, slices.Concat(le.Locations...)))
}

// sourceAt is the user's Dockerfile, read as sm says, at ranges.
func sourceAt(sm *llb.SourceMap, ranges []parser.Range) *errdefs.Source {
	s := &errdefs.Source{Info: &pb.SourceInfo{
		Data: sm.Data, Filename: sm.Filename, Language: sm.Language, Definition: sm.Definition.ToPB(),
	}}
	for _, r := range ranges {
		s.Ranges = append(s.Ranges, &pb.Range{
			Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
			End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
		})
	}
	return s
}
