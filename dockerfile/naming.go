package dockerfile

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
)

// The rewrite's naming contract: how the rewritten Dockerfile names the
// context each SDK comes from, and where an SDK without --to= goes. The
// frontend provides the contexts under these names.

// ContextKind is what an SDK's named context holds.
type ContextKind int

const (
	// LayerContext is the SDK image's one layer as it is: for an SDK
	// instruction, whose COPY unpacks it, and for an unpack=false mount.
	LayerContext ContextKind = iota
	// TreeContext is the SDK unpacked, for a mount.
	TreeContext
)

func (k ContextKind) String() string {
	if k == TreeContext {
		return "tree"
	}
	return "layer"
}

// KindOf is the kind of context u takes its SDK from.
func KindOf(u *Use) ContextKind {
	if u.Mount && u.Unpack {
		return TreeContext
	}
	return LayerContext
}

// contextPrefix begins the name of every context sdkfront provides.
const contextPrefix = "sdkfront-"

// ContextName is the name of the build context that holds one use's SDK:
// "sdkfront-<index>-<kind>". It can only be made by SDKContext.
type ContextName struct{ s string }

var contextNameRe = regexp.MustCompile(`^sdkfront-(0|[1-9][0-9]*)-(layer|tree)$`)

// SDKContext names the context of the use with Use.Index index.
func SDKContext(index int, kind ContextKind) ContextName {
	return ContextName{contextPrefix + strconv.Itoa(index) + "-" + kind.String()}
}

func (c ContextName) String() string { return c.s }

// IsZero reports whether c names no context.
func (c ContextName) IsZero() bool { return c.s == "" }

// check is the emitter's check of a name, in case one was made by hand.
func (c ContextName) check() error {
	if !contextNameRe.MatchString(c.s) {
		return errors.Errorf("context name %s is not sdkfront-<n>-layer or sdkfront-<n>-tree", shown(c.s))
	}
	return nil
}

// Option is the build option that sets the context for every platform,
// as BuildKit's dockerui reads it: "context:<name>".
func (c ContextName) Option() string { return "context:" + c.s }

// PlatformOption is the build option that sets the context for one
// target platform: "context:<name>::<platform>".
func (c ContextName) PlatformOption(p ocispecs.Platform) string {
	return c.Option() + "::" + platforms.FormatAll(platforms.Normalize(p))
}

// Input is the name of the frontend input that holds the context for the
// target-th target platform.
func (c ContextName) Input(target int) string { return c.s + "-" + strconv.Itoa(target) }

// defaultRoot is where an SDK without --to= is installed: under
// /opt/<platform>/<version>.
const defaultRoot = "/opt"

// DefaultDir is the directory an SDK instruction without --to= installs
// into: /opt/<platform>/<version>. Both come from the resolver or the
// lockfile: each must be one directory name of allowed characters.
func DefaultDir(platform, version string) (AbsPath, error) {
	for _, e := range [...]struct{ what, v string }{{"platform", platform}, {"version", version}} {
		err := checkChars(e.v, dirNameChar, "a directory name", "letters, digits and . _ - + @ ~")
		switch {
		case e.v == "":
			err = errors.New("is empty")
		case err == nil && (e.v == "." || e.v == ".."):
			err = errors.New("is not a directory name")
		}
		if err != nil {
			return AbsPath{}, fmt.Errorf("%s %s: %w", e.what, shown(e.v), err)
		}
	}
	return NewAbsPath(defaultRoot + "/" + platform + "/" + version)
}

// Binding is how the rewritten Dockerfile refers to one use: the named
// context that holds its SDK, and the directory it is installed in (SDK)
// or mounted at (mounts). Make one with Bind or Placeholder.
type Binding struct {
	Context ContextName
	Dest    AbsPath
	// Keep are variables the user's line uses, which the rewritten line
	// must still show to BuildKit's converter so that it sees which build
	// args the line uses (outline, lint); only for checks, where nothing
	// is built.
	Keep []VarName
}

// Bind is the binding of u once resolved: platform and version are what
// resolving it gave, from the registry or the lockfile (named by from, for
// errors), and name the directory of an SDK without --to=.
func Bind(u *Use, platform, version, from string) (Binding, error) {
	b := Binding{Context: SDKContext(u.Index, KindOf(u)), Dest: u.Dest}
	if b.Dest.IsZero() {
		d, err := DefaultDir(platform, version)
		if err != nil {
			return Binding{}, parser.WithLocation(errors.Errorf("SDK %s: %v; it comes from %s, and names the SDK's directory %s/<platform>/<version>", u.RefText, err, from, defaultRoot), u.Location())
		}
		b.Dest = d
	}
	return b, nil
}

// Placeholder binds u without resolving it, for check requests: it keeps
// the variables the line uses, and an SDK without --to= goes to
// /opt/<platform>/<constraint>, or /opt/<platform>/default where the
// constraint is no directory name (">=8 <9").
func Placeholder(u *Use) Binding {
	b := Binding{Context: SDKContext(u.Index, KindOf(u)), Dest: u.Dest, Keep: u.VarRefs()}
	if b.Dest.IsZero() {
		platform, v := "sdk", "default"
		if !u.Bad {
			platform = u.Ref.Platform
			if c := u.Ref.Constraint.Raw; c != "" {
				v = c
			}
		}
		d, err := DefaultDir(platform, v)
		if err != nil {
			d, _ = DefaultDir(platform, "default")
		}
		if d.IsZero() {
			d, _ = DefaultDir("sdk", "default")
		}
		b.Dest = d
	}
	return b
}
