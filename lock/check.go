package lock

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"

	"github.com/sdkfront/sdkfront/resolver"
)

// A lockfile arrives in pull requests and is skimmed in review: it is data
// to check, never text to trust. Its entries pin what a build fetches, and
// their versions reach the rewritten Dockerfile. Every entry must be what
// resolving its key could have given: the repository and tag its source
// template (or full reference) gives, a version its constraint admits,
// digests and names that follow their grammars.

// MaxSize is the size of the largest lock read, in bytes: 1 MiB, some
// thousands of entries.
const MaxSize = 1 << 20

// ReadFile reads a lockfile of at most MaxSize bytes: of a larger file,
// no more than one byte over, for Parse to refuse.
func ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxSize+1))
}

// ErrInvalid matches every error that says a lockfile, or an entry of it,
// is not valid.
var ErrInvalid = errors.New("invalid SDK lockfile")

// invalidError is a lockfile that is not a valid lock.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{ErrInvalid.Error() + ": " + fmt.Sprintf(format, args...)}
}

// EntryError is an entry that breaks the rules of the format: every
// problem found, each naming its field.
type EntryError struct {
	Key      Key
	Problems []Problem
}

// Problem is what is wrong with one field of an entry.
type Problem struct {
	Field string // "version", "platforms[linux/amd64]"
	What  string // what follows the field's name and value in a message
	Value string // the field's value, as the lock has it
}

func (p Problem) String() string {
	v := p.Value
	if len(v) > maxShown {
		v = v[:maxShown] + "…"
	}
	return fmt.Sprintf("%s %q %s", p.Field, v, p.What)
}

// maxShown bounds how much of a value a message repeats.
const maxShown = 160

func (e *EntryError) Error() string { return fmt.Sprintf("entry %s: %s", e.Key, e.What()) }

// What is every problem, without the entry's key.
func (e *EntryError) What() string {
	var ps []string
	for _, p := range e.Problems {
		ps = append(ps, p.String())
	}
	return strings.Join(ps, "; ")
}

func (e *EntryError) Is(target error) bool { return target == ErrInvalid }

// InvalidEntriesError lists a lockfile's entries that break its rules.
type InvalidEntriesError struct{ Entries []*EntryError }

func (e *InvalidEntriesError) Error() string {
	var lines []string
	for _, ee := range e.Entries {
		lines = append(lines, ee.Error())
	}
	return strings.Join(lines, "\n")
}

func (e *InvalidEntriesError) Is(target error) bool { return target == ErrInvalid }

// Of is the invalid entry with key k, if there is one.
func (e *InvalidEntriesError) Of(k Key) (*EntryError, bool) {
	if e == nil {
		return nil, false
	}
	for _, ee := range e.Entries {
		if ee.Key == k {
			return ee, true
		}
	}
	return nil, false
}

// Grammars, as allow-lists. A version and a flavor become part of a tag,
// whose grammar is [\w][\w.-]{0,127}; a flavor never holds '-', which
// separates it from the version in "{flavor}-{version}". A reference is
// what resolver.ParseRef reads, in characters that need no quoting.
var (
	versionGrammar    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	flavorGrammar     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.]{0,127}$`)
	tagGrammar        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestGrammar     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	refGrammar        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._/:@+~^<>=!*,|-]{0,511}$`)
	constraintGrammar = regexp.MustCompile(`^[A-Za-z0-9 ._+~^<>=!*,|-]{1,128}$`)
	platformGrammar   = regexp.MustCompile(`^[a-z0-9]+(\([A-Za-z0-9._%+-]*\))?/[a-z0-9_]+(/[a-z0-9.]+)?$`)
)

// maxSource bounds a source template's length.
const maxSource = 512

// Check checks e as the entry that pins a line asking for w: its key is
// the line's, and the rest is what resolving it could have given. The
// error, an *EntryError, names every problem.
func (e Entry) Check(w Want) error {
	if err := e.check(&w); err != nil {
		return err
	}
	return nil
}

// check is Check, against what e's own key asks when w is nil.
func (e Entry) check(w *Want) *EntryError {
	var ps []Problem
	bad := func(field, value, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Value: value, What: fmt.Sprintf(format, args...)})
	}
	if !flavorGrammar.MatchString(e.Flavor) {
		bad("flavor", e.Flavor, "is not a flavor: want letters, digits, '_' and '.', at most 128")
	}
	if w == nil {
		w = e.Key.want(bad)
	} else {
		if line := w.Ref.Raw; e.Ref != line {
			bad("ref", e.Ref, "is not the line's reference %q", line)
		}
		if line := w.Source.String(); e.Source != line {
			bad("source", e.Source, "is not the build's source template %q", line)
		}
		if want := w.Key(e.Flavor).Constraint; e.Constraint != want {
			bad("constraint", e.Constraint, "is not the line's %q", want)
		}
	}

	versionOK := versionGrammar.MatchString(e.Version)
	if !versionOK {
		bad("version", e.Version, "is not a version: want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128")
	}
	if w != nil {
		c := w.Ref.Constraint
		if versionOK && !c.Admits(e.Version) {
			bad("version", e.Version, "does not satisfy the reference's constraint %q", c.Raw)
		}
		src := w.Ref.SourceIn(w.Source)
		if want := src.Repository(w.Ref.Platform); e.Repository != want {
			what := "the source template gives for " + w.Ref.Platform
			if w.Ref.Repository != "" {
				what = "the reference names"
			}
			bad("repository", e.Repository, "is not the one %s (%q)", what, want)
		}
		want := src.Tag(e.Flavor, e.Version)
		if versionOK && e.Tag != want && !(c.Kind == resolver.Default && e.Tag == src.DefaultTag(e.Flavor)) {
			bad("tag", e.Tag, "is not the one the source template gives for flavor %s and version %s (%q)", quote(e.Flavor), quote(e.Version), want)
		}
	}
	if !tagGrammar.MatchString(e.Tag) {
		bad("tag", e.Tag, "is not a tag: want letters, digits, '_', '.' and '-', at most 128")
	}
	if !digestGrammar.MatchString(string(e.Digest)) {
		bad("digest", string(e.Digest), "is not a digest: want sha256: and 64 lowercase hexadecimal digits")
	}
	for _, p := range slices.Sorted(maps.Keys(e.Platforms)) {
		d := e.Platforms[p]
		if msg := platformProblem(p); msg != "" {
			bad("platform", p, "%s", msg)
		}
		if !digestGrammar.MatchString(string(d)) {
			bad("platforms["+quote(p)+"]", string(d), "is not a digest: want sha256: and 64 lowercase hexadecimal digits")
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &EntryError{Key: e.Key, Problems: ps}
}

// want is what k itself asks for: its reference, constraint and source,
// parsed. Problems go to bad; nil if the reference or the source does not
// parse.
func (k Key) want(bad func(field, value, format string, args ...any)) *Want {
	var w Want
	ok := true
	if !refGrammar.MatchString(k.Ref) {
		bad("ref", k.Ref, "is not an SDK reference: want letters, digits, spaces and ._/:@+~^<>=!*,|-, at most 512")
		ok = false
	} else if r, err := parseRef(k.Ref, k.Constraint); err != nil {
		bad("ref", k.Ref, "is not an SDK reference: %v", err)
		ok = false
	} else {
		w.Ref, w.FromFile = r, k.Constraint != ""
	}
	if len(k.Source) > maxSource {
		bad("source", k.Source, "is longer than %d", maxSource)
		ok = false
	} else if s, err := resolver.ParseSource(k.Source); err != nil {
		bad("source", k.Source, "is not a source template: %v", err)
		ok = false
	} else {
		w.Source = s
	}
	if !ok {
		return nil
	}
	return &w
}

// parseRef parses a key's reference: for a version file's
// ("python@file:.python-version"), the platform or repository before the
// '@', with the constraint the file gave.
func parseRef(ref, constraint string) (resolver.Ref, error) {
	name, after, _ := strings.Cut(ref, "@")
	if _, ok := strings.CutPrefix(after, "file:"); !ok {
		if constraint != "" {
			return resolver.Ref{}, fmt.Errorf("it reads no version file, yet the entry has constraint %q", constraint)
		}
		return resolver.ParseRef(ref)
	}
	if !constraintGrammar.MatchString(constraint) {
		return resolver.Ref{}, fmt.Errorf("it reads a version file, and the entry's constraint %q is not one: want letters, digits, spaces and ._+~^<>=!*,|-, at most 128", constraint)
	}
	r, err := resolver.ParseRef(name + "@" + constraint)
	if err != nil {
		return resolver.Ref{}, err
	}
	r.Raw = ref
	return r, nil
}

// platformProblem says what is wrong with a platform key, or "".
func platformProblem(p string) string {
	if !platformGrammar.MatchString(p) {
		return "is not a platform: want os/arch[/variant] in lowercase, as linux/amd64"
	}
	pp, err := platforms.Parse(p)
	if err != nil {
		return fmt.Sprintf("is not a platform: %v", err)
	}
	if k := PlatformKey(pp); k != p {
		// Entry.Resolution looks platforms up by PlatformKey.
		return "is not normalized: write it as " + k
	}
	return ""
}

// quote is s, or s quoted if it holds anything that needs quoting: what a
// message repeats from the lock cannot break its line.
func quote(s string) string {
	if q := strconv.Quote(s); q != `"`+s+`"` {
		return q
	}
	return s
}
