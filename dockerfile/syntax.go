package dockerfile

import (
	"encoding/csv"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

// Use is one SDK line of the Dockerfile: an SDK instruction or a
// RUN --mount=type=sdk flag, with build args expanded for one target
// platform.
type Use struct {
	Mount   bool
	Ref     resolver.Ref
	RefText string  // expanded, as written: "golang@1.23"
	Flavor  string  // from the line itself; "" means the build's default
	Dest    AbsPath // SDK --to= or the mount target; zero means the default dir
	Unpack  bool    // mounts: unpacked tree (true) or the layer as it is
	Subpath SubPath // mounts: source= inside the SDK; zero means all of it

	Stage int          // index of its stage in Scan.Stages
	Node  *parser.Node // the instruction
	Flag  string       // mounts: the --mount flag as the parser unquoted it
	Index int          // position among the Dockerfile's SDK lines, the same for every platform
	Bad   bool         // a Lenient scan's stand-in for a line that has an error
	// flagIndex is Flag's index in Node.Flags, for the rewrite to edit the
	// flag the parser read.
	flagIndex int

	// VersionFile is set for "<platform>@file:<path>": the constraint is
	// read from that file, and FileConstraint holds it once SetConstraint
	// has been called.
	VersionFile    *VersionFile
	FileConstraint string
}

// Line is the 1-based line the instruction starts on.
func (u *Use) Line() int { return u.Node.StartLine }

// Location is where the instruction stands, for errors.
func (u *Use) Location() []parser.Range { return u.Node.Location() }

// parseSDKArgs parses the words of "SDK <ref> [--flavor=F] [--to=DIR]",
// already expanded. Flags may stand before or after the reference.
func parseSDKArgs(words []string) (*Use, error) {
	u := &Use{Unpack: true}
	var refs []string
	var to string
	seen := map[string]bool{}
	for _, w := range words {
		if !strings.HasPrefix(w, "--") {
			refs = append(refs, w)
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		if !ok || v == "" {
			return nil, errors.Errorf("SDK flag %q needs a value (--%s=...)", w, k)
		}
		if seen[k] {
			return nil, errors.Errorf("SDK flag --%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "flavor":
			if err := checkFlavor("SDK --flavor", v); err != nil {
				return nil, err
			}
			u.Flavor = v
		case "to":
			to = v
		default:
			return nil, errors.Errorf("unknown SDK flag %q (valid: --flavor, --to)", "--"+k)
		}
	}
	if len(refs) != 1 {
		return nil, errors.Errorf("SDK takes exactly one reference, got %d: usage: SDK <platform>[@<version>] [--flavor=F] [--to=DIR]", len(refs))
	}
	if err := u.setRef("SDK reference ", refs[0]); err != nil {
		return nil, err
	}
	if to != "" {
		// The directory lands in COPY and ENV PATH="<dir>/bin:…".
		d, err := userAbsPath("SDK --to", to)
		if err != nil {
			return nil, err
		}
		u.Dest = d
	}
	return u, nil
}

// setRef parses the SDK reference s; field begins its errors ("SDK
// reference ", "sdk mount ref=").
func (u *Use) setRef(field, s string) error {
	if err := checkChars(s, refChar, "an SDK reference", refAllowed); err != nil {
		return errors.Errorf("%s%s: %v", field, shown(s), err)
	}
	if p, ok := strings.CutSuffix(s, "@"); ok {
		return errors.Errorf("SDK reference %q has an empty version: is its build arg declared (ARG) in this stage? Use %s@default for the default version", s, p)
	}
	name, constraint, _ := strings.Cut(s, "@")
	if f, ok := strings.CutPrefix(constraint, "file:"); ok {
		vf, err := ParseVersionFile(f)
		if err != nil {
			return errors.Wrapf(err, "SDK reference %q", s)
		}
		// The constraint is read from the file later (SetConstraint).
		r, err := resolver.ParseRef(name)
		if err != nil {
			return err
		}
		r.Raw = s
		u.Ref, u.RefText, u.VersionFile = r, s, &vf
		return nil
	}
	r, err := resolver.ParseRef(s)
	if err != nil {
		return err
	}
	u.Ref, u.RefText = r, s
	return nil
}

// SetConstraint gives a use whose version comes from a file the constraint
// read from it.
func (u *Use) SetConstraint(c string) error {
	if err := checkChars(c, constraintChar, "a version constraint", constraintAllowed); err != nil {
		from := "its file"
		if u.VersionFile != nil {
			from = u.VersionFile.String()
		}
		return errors.Errorf("version %s read from %s: %v", shown(c), from, err)
	}
	pc, err := resolver.ParseConstraint(c)
	if err != nil {
		return err
	}
	u.Ref.Constraint = pc
	u.FileConstraint = c
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
func parseSDKMount(flag string, expand func(string) (string, error)) (*Use, error) {
	v := strings.TrimPrefix(flag, "--mount=")
	fields, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return nil, errors.Wrapf(err, "malformed --mount=%s", v)
	}
	u := &Use{Mount: true, Unpack: true, Flag: flag}
	var ref, target, source string
	seen := map[string]string{}
	for _, f := range fields {
		k, val, hasVal := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		canon := k
		switch k {
		case "dst", "destination":
			canon = "target"
		case "src":
			canon = "source"
		case "ro":
			canon = "readonly"
		}
		if prev, dup := seen[canon]; dup {
			return nil, errors.Errorf("sdk mount option %s is given twice (%s and %s)", canon, prev, f)
		}
		seen[canon] = f
		if val, err = expand(val); err != nil {
			return nil, errors.Wrapf(err, "expanding %s in --mount", k)
		}
		switch k {
		case "type":
		case "ref":
			ref = val
		case "target", "dst", "destination":
			target = val
		case "flavor":
			u.Flavor = val
		case "source", "src":
			source = val
		case "unpack":
			b := true
			if hasVal {
				if b, err = strconv.ParseBool(val); err != nil {
					return nil, errors.Errorf("sdk mount: unpack=%q is not a boolean", val)
				}
			}
			u.Unpack = b
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
	if target == "" {
		return nil, errors.New("sdk mount needs target=<dir>")
	}
	// The paths land in the bind mount's CSV: see values.go.
	if u.Dest, err = userAbsPath("sdk mount target", target); err != nil {
		return nil, err
	}
	if source != "" {
		if err := checkChars(source, pathChar, "a path", pathAllowed); err != nil {
			return nil, errors.Errorf("sdk mount source=%s: %v", shown(source), err)
		}
		if u.Subpath, err = NewSubPath(path.Clean(source)); err != nil {
			return nil, errors.Errorf("sdk mount source=%s: %v", shown(source), err)
		}
	}
	if u.Flavor != "" {
		if err := checkFlavor("sdk mount flavor", u.Flavor); err != nil {
			return nil, err
		}
	}
	if err := u.setRef("sdk mount ref=", ref); err != nil {
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

// varRef finds the variables a line refers to: $NAME, ${NAME} and
// ${NAME<modifier>...}, whose word may refer to more.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// VarRefs returns the variables the user's line refers to, each once, so
// that a rewrite for checks can show them to BuildKit's converter.
func (u *Use) VarRefs() []VarName {
	raw := u.Flag
	if !u.Mount && u.Node != nil {
		raw = instructionArgs(u.Node)
	}
	var out []VarName
	seen := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(raw, -1) {
		if v, err := NewVarName(m[1]); err == nil && !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, v)
		}
	}
	return out
}
