package frontend

import (
	"encoding/csv"
	"path"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

// use is one SDK directive found in the Dockerfile: an SDK instruction or a
// RUN --mount=type=sdk flag, with build args already expanded.
type use struct {
	mount   bool
	ref     resolver.Ref
	refText string // expanded, as written: "golang@1.23"
	flavor  string // from the directive itself; "" means the build's default
	dest    string // SDK --to= or the mount target; "" means the default dir
	unpack  bool   // mounts: unpacked tree (true) or the layer as it is
	subpath string // mounts: source= inside the SDK

	stage int
	line  int    // 1-based start line of the instruction
	flag  string // mounts: the --mount flag as the parser unquoted it
	node  *parser.Node
}

// parseSDKArgs parses the words of "SDK <ref> [--flavor=F] [--to=DIR]",
// already expanded. Flags may stand before or after the reference.
func parseSDKArgs(words []string) (*use, error) {
	u := &use{unpack: true}
	var refs []string
	for _, w := range words {
		if !strings.HasPrefix(w, "--") {
			refs = append(refs, w)
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		if !ok || v == "" {
			return nil, errors.Errorf("SDK flag %q needs a value (--%s=...)", w, k)
		}
		switch k {
		case "flavor":
			u.flavor = v
		case "to":
			u.dest = v
		default:
			return nil, errors.Errorf("unknown SDK flag %q (valid: --flavor, --to)", "--"+k)
		}
	}
	if len(refs) != 1 {
		return nil, errors.Errorf("SDK takes exactly one reference, got %d: usage: SDK <platform>[@<version>] [--flavor=F] [--to=DIR]", len(refs))
	}
	if err := u.setRef(refs[0]); err != nil {
		return nil, err
	}
	if u.dest != "" && !path.IsAbs(u.dest) {
		return nil, errors.Errorf("SDK --to=%s must be an absolute path", u.dest)
	}
	return u, nil
}

func (u *use) setRef(s string) error {
	if p, ok := strings.CutSuffix(s, "@"); ok {
		return errors.Errorf("SDK reference %q has an empty version: is its build arg declared (ARG) in this stage? Use %s@default for the default version", s, p)
	}
	r, err := resolver.ParseRef(s)
	if err != nil {
		return err
	}
	u.ref, u.refText = r, s
	return nil
}

// isSDKMount reports whether a RUN flag is a --mount of type sdk.
func isSDKMount(flag string) bool {
	v, ok := strings.CutPrefix(flag, "--mount=")
	if !ok {
		return false
	}
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return false
	}
	for _, f := range fields {
		if k, val, _ := strings.Cut(f, "="); strings.EqualFold(strings.TrimSpace(k), "type") {
			return strings.EqualFold(strings.TrimSpace(val), "sdk")
		}
	}
	return false
}

// parseSDKMount parses the value of --mount=type=sdk,ref=...,target=...,
// expanding every value with expand.
func parseSDKMount(flag string, expand func(string) (string, error)) (*use, error) {
	v := strings.TrimPrefix(flag, "--mount=")
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return nil, errors.Wrapf(err, "malformed --mount=%s", v)
	}
	u := &use{mount: true, unpack: true, flag: flag}
	var ref string
	for _, f := range fields {
		k, val, hasVal := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if val, err = expand(val); err != nil {
			return nil, errors.Wrapf(err, "expanding %s in --mount", k)
		}
		switch k {
		case "type":
		case "ref":
			ref = val
		case "target", "dst", "destination":
			u.dest = val
		case "flavor":
			u.flavor = val
		case "source", "src":
			u.subpath = val
		case "unpack":
			b := true
			if hasVal {
				if b, err = strconv.ParseBool(val); err != nil {
					return nil, errors.Errorf("sdk mount: unpack=%q is not a boolean", val)
				}
			}
			u.unpack = b
		case "readonly", "ro":
			if b, err := strconv.ParseBool(val); hasVal && (err != nil || !b) {
				return nil, errors.Errorf("sdk mounts are always read-only (%s=%s)", k, val)
			}
		case "rw", "readwrite":
			return nil, errors.Errorf("sdk mounts are always read-only; drop %q", f)
		default:
			return nil, errors.Errorf("unknown sdk mount option %q (valid: ref, target, flavor, unpack, source)", k)
		}
	}
	if ref == "" {
		return nil, errors.New("sdk mount needs ref=<platform>[@<version>]")
	}
	if u.dest == "" {
		return nil, errors.New("sdk mount needs target=<dir>")
	}
	if !path.IsAbs(u.dest) {
		return nil, errors.Errorf("sdk mount target=%s must be an absolute path", u.dest)
	}
	for _, s := range []string{u.dest, u.subpath} {
		if strings.ContainsAny(s, ", \t\"'") {
			return nil, errors.Errorf("sdk mount path %q must not contain spaces, quotes or commas", s)
		}
	}
	if err := u.setRef(ref); err != nil {
		return nil, err
	}
	return u, nil
}

// splitWords splits s at white space outside quotes, keeping quotes and
// escapes for the shell lexer to process.
func splitWords(s string, escape rune) []string {
	var words []string
	var b strings.Builder
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			escaped = false
		case c == escape && quote != '\'':
			escaped = true
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && (c == ' ' || c == '\t'):
			if b.Len() > 0 {
				words = append(words, b.String())
				b.Reset()
			}
			continue
		}
		b.WriteRune(c)
	}
	if b.Len() > 0 {
		words = append(words, b.String())
	}
	return words
}
