package dockerfile

import (
	"bytes"
	"path"
	"strings"
	"testing"

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
		sr.StagePlatform(i)
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
		df.Settings(fuzzArgs)
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
