package dockerfile

import (
	"bytes"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/sdkfront/sdkfront/resolver"
)

// Fuzz targets of the Dockerfile superset (make fuzz). Seeds are in
// testdata/fuzz/. Properties: no panics; SDK lines that scan are sound
// (a reference, an absolute directory); their rewrite is a Dockerfile that
// BuildKit parses, whose generated instructions parse too.

var fuzzArgs = map[string]string{"GO_VERSION": "1.23", "DIR": "/opt/go"}

// checkFile scans f strictly and leniently and, if the strict scan
// succeeds, rewrites it and checks the rewrite.
func checkFile(t *testing.T, f *File) {
	t.Helper()
	opts := ScanOpts{BuildArgs: fuzzArgs, Build: amd64, Target: arm64}
	lenient := opts
	lenient.Lenient = true
	ls, err := f.Scan(lenient)
	if err != nil {
		t.Fatalf("lenient scan failed: %v", err)
	}
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
		if u.Mount && u.Dest == "" || u.Dest != "" && !path.IsAbs(u.Dest) {
			t.Fatalf("use on line %d: directory %q", u.Line(), u.Dest)
		}
		u.VarRefs()
	}
	rw, err := f.Rewrite(sr.Uses, fakeBind)
	if err != nil || f.ParseErr != nil {
		return
	}
	res, err := parser.Parse(bytes.NewReader(rw.Data))
	if err != nil {
		t.Fatalf("rewrite does not parse: %v\n%s", err, rw.Data)
	}
	for l := 1; l <= len(rw.Lines); l++ {
		if ul := rw.UserLine(l); ul < 1 || ul > bytes.Count(f.Data, []byte("\n"))+1 {
			t.Fatalf("rewritten line %d maps to line %d of a %d-line file", l, ul, bytes.Count(f.Data, []byte("\n"))+1)
		}
	}
	// The generated instructions parse, and the PATH they set starts with
	// the SDK's directory.
	for _, n := range res.AST.Children {
		orig := strings.TrimSpace(n.Original)
		generated := strings.HasPrefix(orig, "COPY --from=sdkfront-") || strings.HasPrefix(orig, `ENV PATH="`) ||
			strings.Contains(orig, "--mount=type=bind,from=sdkfront-")
		if !generated {
			continue
		}
		if strings.HasPrefix(strings.ToLower(n.Value), "run") {
			// The user's own flags must be valid for the RUN to parse:
			// check the generated mounts only where they are.
			own := *n
			own.Flags = slices.DeleteFunc(slices.Clone(n.Flags), func(fl string) bool {
				return strings.HasPrefix(fl, "--mount=type=bind,from=sdkfront-")
			})
			if _, err := instructions.ParseInstructionWithLinter(&own, quiet()); err != nil {
				continue
			}
		}
		cmd, err := instructions.ParseInstructionWithLinter(n, quiet())
		if err != nil {
			t.Fatalf("generated instruction %q does not parse: %v\n%s", orig, err, rw.Data)
		}
		if env, ok := cmd.(*instructions.EnvCommand); ok {
			// As BuildKit's dispatcher expands it, with no PATH set.
			v, _, err := shell.NewLex(res.EscapeToken).ProcessWord(env.Env[0].Value, shell.EnvsFromSlice(nil))
			if err != nil {
				t.Fatalf("generated %q does not expand: %v", orig, err)
			}
			ok := false
			for _, u := range sr.Uses {
				if b := fakeBind(u); !u.Mount && strings.HasPrefix(v, b.Dest+"/bin:") {
					ok = true
				}
			}
			if env.Env[0].Key != "PATH" || !ok {
				t.Fatalf("generated %q sets %s=%q, not an SDK's bin first", orig, env.Env[0].Key, v)
			}
		}
	}
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
