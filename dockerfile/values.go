package dockerfile

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pkg/errors"
)

// The values an SDK line becomes part of the rewritten Dockerfile through
// are typed: each is made by a constructor that checks it against an
// allow-list, so that emit.go, the one place that writes Dockerfile text,
// writes only values that cannot end a quote, a CSV field, a flag or a
// line, nor be expanded again by BuildKit. Build args, the lockfile,
// project files and registry answers are all untrusted.
//
// A path may hold only ASCII letters, digits and the characters in
// pathPunct. None of them is special in a CSV field (--mount=...), in a
// double-quoted ENV value, in a JSON string, or to BuildKit's lexer with
// either escape token: no white space, no control character, no quote,
// comma, '=', '$', '\\', '`', '{', '}', '*', '?' or '['.
const pathPunct = "/._-+@~"

// pathAllowed is what the path errors say is allowed.
const pathAllowed = "letters, digits and / . _ - + @ ~"

// pathChar reports whether r may stand in a path.
func pathChar(r rune) bool { return asciiAlnum(r) || strings.ContainsRune(pathPunct, r) }

// dirNameChar reports whether r may stand in one directory name.
func dirNameChar(r rune) bool { return r != '/' && pathChar(r) }

func asciiAlnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// CharError is a value with a character its allow-list does not have.
type CharError struct {
	Char    string // the character, written as a Go rune literal: '\x0b'
	In      string // what the value is: "a path"
	Allowed string // what is allowed, in words
}

func (e *CharError) Error() string {
	return fmt.Sprintf("character %s is not allowed in %s (allowed: %s)", e.Char, e.In, e.Allowed)
}

// checkChars returns a *CharError for the first character of s that ok
// refuses; bytes that are not UTF-8 are refused too.
func checkChars(s string, ok func(rune) bool, in, allowed string) error {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !ok(r) {
			return &CharError{Char: charLiteral(s[i:]), In: in, Allowed: allowed}
		}
		i += n
	}
	return nil
}

// charLiteral writes the first character of s as a rune literal made of
// printable ASCII only: 'a', '\x0b', '\u2028', or '\xff' for a byte that
// is not UTF-8.
func charLiteral(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && n <= 1:
		return fmt.Sprintf(`'\x%02x'`, s[0])
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf(`'\x%02x'`, r)
	case r == '\'' || r == '\\':
		return `'\` + string(r) + `'`
	case r < 0x7f:
		return "'" + string(r) + "'"
	case r <= 0xffff:
		return fmt.Sprintf(`'\u%04x'`, r)
	}
	return fmt.Sprintf(`'\U%08x'`, r)
}

// shown is a value for an error message: quoted, in printable ASCII, and
// cut short if long.
func shown(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return strconv.QuoteToASCII(s)
	}
	cut := 0
	for range max {
		_, n := utf8.DecodeRuneInString(s[cut:])
		cut += n
	}
	q := strconv.QuoteToASCII(s[:cut])
	return q[:len(q)-1] + `…"`
}

// AbsPath is an absolute, clean path that is safe to write anywhere in a
// Dockerfile: see pathPunct. The zero value is no path.
type AbsPath struct{ p string }

// NewAbsPath checks that p is an absolute path, clean (path.Clean(p) ==
// p), with only the allowed characters.
func NewAbsPath(p string) (AbsPath, error) {
	if err := checkPath(p); err != nil {
		return AbsPath{}, err
	}
	if !path.IsAbs(p) {
		return AbsPath{}, errors.New("must be an absolute path")
	}
	return AbsPath{p}, nil
}

// userAbsPath is NewAbsPath for a path the user wrote: it is cleaned
// first, so that "/opt/go/" is "/opt/go". Cleaning removes only '/' and
// '.', so it cannot hide a character from the check.
func userAbsPath(field, p string) (AbsPath, error) {
	if err := checkChars(p, pathChar, "a path", pathAllowed); err != nil {
		return AbsPath{}, fmt.Errorf("%s=%s: %w", field, shown(p), err)
	}
	if !path.IsAbs(p) {
		return AbsPath{}, fmt.Errorf("%s=%s must be an absolute path", field, p)
	}
	a, err := NewAbsPath(path.Clean(p))
	if err != nil {
		return AbsPath{}, fmt.Errorf("%s=%s: %w", field, shown(p), err)
	}
	return a, nil
}

func (p AbsPath) String() string { return p.p }

// IsZero reports whether p is no path.
func (p AbsPath) IsZero() bool { return p.p == "" }

// SubPath is a clean path inside an SDK, relative to its root or absolute
// ("bin", "/bin"): an sdk mount's source=. It has only the characters an
// AbsPath may have. The zero value is the whole SDK.
type SubPath struct{ p string }

// NewSubPath checks that p is a clean path with only the allowed
// characters.
func NewSubPath(p string) (SubPath, error) {
	if err := checkPath(p); err != nil {
		return SubPath{}, err
	}
	return SubPath{p}, nil
}

func (p SubPath) String() string { return p.p }

// IsZero reports whether p is unset: the whole SDK.
func (p SubPath) IsZero() bool { return p.p == "" }

// checkPath checks what every path the rewrite writes must be: not empty,
// the allowed characters, and clean.
func checkPath(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	if err := checkChars(p, pathChar, "a path", pathAllowed); err != nil {
		return err
	}
	if c := path.Clean(p); c != p {
		return fmt.Errorf("is not clean: write %s", c)
	}
	return nil
}

// VarName is the name of a variable a user's line refers to, which the
// rewrite of a check request shows BuildKit as ${NAME}.
type VarName struct{ s string }

var varNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewVarName checks that s is a plain variable name: an ASCII letter or
// '_', then letters, digits or '_'.
func NewVarName(s string) (VarName, error) {
	if !varNameRe.MatchString(s) {
		return VarName{}, fmt.Errorf("variable name %s: want ASCII letters, digits and _, not starting with a digit", shown(s))
	}
	return VarName{s}, nil
}

func (v VarName) String() string { return v.s }

// flavorAllowed is what a flavor may hold: the characters of an image tag
// but '-', which separates a flavor from the version in the tag
// ("bookworm-1.23.4"), starting with a letter, digit or '_' as a tag does.
const flavorAllowed = "letters, digits, _ and ., not first"

func flavorChar(r rune) bool { return asciiAlnum(r) || r == '_' || r == '.' }

// checkFlavor checks a flavor the user wrote: field is where
// ("SDK --flavor", "sdk mount flavor").
func checkFlavor(field, f string) error {
	err := checkChars(f, flavorChar, "a flavor", flavorAllowed)
	if err == nil && strings.HasPrefix(f, ".") {
		err = &CharError{Char: "'.'", In: "a flavor's first character", Allowed: "letters, digits and _"}
	}
	if err != nil {
		return fmt.Errorf("%s=%s: %w", field, shown(f), err)
	}
	return nil
}

// refAllowed is what an SDK reference may hold: a platform or repository
// ("127.0.0.1:5000/sdks/golang"), '@', and a version, range ("^1.2",
// ">=1.2, <2 || 3.x") or "file:" path.
const (
	refPunct   = " @/:._-+~^*<>=!,|"
	refAllowed = "letters, digits, space and @ / : . _ - + ~ ^ * < > = ! , |"
	// constraintPunct is refPunct without what only a platform,
	// repository or file path has.
	constraintPunct   = " ._-+~^*<>=!,|"
	constraintAllowed = "letters, digits, space and . _ - + ~ ^ * < > = ! , |"
)

func refChar(r rune) bool        { return asciiAlnum(r) || strings.ContainsRune(refPunct, r) }
func constraintChar(r rune) bool { return asciiAlnum(r) || strings.ContainsRune(constraintPunct, r) }
