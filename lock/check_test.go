package lock

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/resolver"
)

// good is a valid entry: golang@1.23 locked to 1.23.4.
func good() Entry {
	return entry("golang@1.23", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")})
}

// Every rule of an entry, each broken alone: the error names the entry,
// the field and its value.
func TestCheckRules(t *testing.T) {
	const key = "entry golang@1.23 (bookworm, " + source + "): "
	for _, tc := range []struct {
		name string
		edit func(e *Entry)
		want string // the message after the key
	}{
		{"version with a quote and a newline", func(e *Entry) { e.Version = "1.23.4\"\nRUN evil" },
			`version "1.23.4\"\nRUN evil" is not a version: want letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128`},
		{"version too long", func(e *Entry) { e.Version = "1.23.4" + strings.Repeat("9", 123) }, `is not a version`},
		{"version starting with a dot", func(e *Entry) { e.Version = ".1.23.4" }, `version ".1.23.4" is not a version`},
		{"version outside the constraint", func(e *Entry) { e.Version, e.Tag = "1.24.0", "bookworm-1.24.0" },
			`version "1.24.0" does not satisfy the reference's constraint "1.23"`},
		{"repository", func(e *Entry) { e.Repository = "127.0.0.1:5000/sdks/evil" },
			`repository "127.0.0.1:5000/sdks/evil" is not the one the source template gives for golang ("127.0.0.1:5000/sdks/golang")`},
		{"tag of another version", func(e *Entry) { e.Tag = "bookworm-1.23.5" },
			`tag "bookworm-1.23.5" is not the one the source template gives for flavor bookworm and version 1.23.4 ("bookworm-1.23.4")`},
		{"tag of another flavor", func(e *Entry) { e.Tag = "bullseye-1.23.4" }, `tag "bullseye-1.23.4" is not the one`},
		{"default tag for a version", func(e *Entry) { e.Tag = "bookworm-default" }, `tag "bookworm-default" is not the one`},
		{"tag grammar", func(e *Entry) { e.Tag = "-x" }, `tag "-x" is not a tag`},
		{"digest sha512", func(e *Entry) { e.Digest = digest.Digest("sha512:" + strings.Repeat("a", 128)) },
			`digest "sha512:aaaa`},
		{"digest upper case", func(e *Entry) { e.Digest = digest.Digest("sha256:" + strings.Repeat("A", 64)) },
			`digest "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" is not a digest: want sha256: and 64 lowercase hexadecimal digits`},
		{"digest short", func(e *Entry) { e.Digest = "sha256:abc" }, `digest "sha256:abc" is not a digest`},
		{"platform digest", func(e *Entry) { e.Platforms["linux/amd64"] = "sha256:" + dg("c")[7:71] + "\n" },
			`platforms[linux/amd64] "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n" is not a digest`},
		{"platform alias", func(e *Entry) { e.Platforms = map[string]digest.Digest{"linux/aarch64": dg("b")} },
			`platform "linux/aarch64" is not normalized: write it as linux/arm64`},
		{"platform grammar", func(e *Entry) { e.Platforms = map[string]digest.Digest{"linux/amd64\"": dg("b")} },
			`platform "linux/amd64\"" is not a platform: want os/arch[/variant] in lowercase`},
		{"flavor with '-'", func(e *Entry) { e.Flavor, e.Tag = "book-worm", "book-worm-1.23.4" },
			`flavor "book-worm" is not a flavor: want letters, digits, '_' and '.', at most 128`},
		{"ref that does not parse", func(e *Entry) { e.Ref = "golang@>>1" }, `ref "golang@>>1" is not an SDK reference: invalid SDK reference "golang@>>1": `},
		{"ref with a digest", func(e *Entry) {
			e.Ref = "golang@sha256:" + strings.Repeat("a", 64)
		}, `is not an SDK reference: invalid SDK reference`},
		{"source that does not parse", func(e *Entry) { e.Source = "127.0.0.1:5000/sdks/golang" },
			`source "127.0.0.1:5000/sdks/golang" is not a source template: invalid SDK source`},
		{"source too long", func(e *Entry) { e.Source = "r/" + strings.Repeat("x", 600) + "/{platform}:{version}" }, `is longer than 512`},
		{"constraint without a version file", func(e *Entry) { e.Constraint = "1.23" },
			`ref "golang@1.23" is not an SDK reference: it reads no version file, yet the entry has constraint "1.23"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := good()
			tc.edit(&e)
			dt := (&File{SDKs: []Entry{e}}).Marshal()
			f, err := Parse(dt)
			var bad *InvalidEntriesError
			if !errors.As(err, &bad) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse: %v, want an *InvalidEntriesError", err)
			}
			if len(f.SDKs) != 0 {
				t.Errorf("Parse kept the invalid entry: %+v", f.SDKs)
			}
			ee, ok := bad.Of(e.Key)
			if !ok {
				t.Fatalf("%v does not name %v", err, e.Key)
			}
			msg := ee.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("the message has a line break: %q", msg)
			}
			prefix := "entry " + e.Key.String() + ": "
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.want) {
				t.Errorf("error:\n%s\nwant it to start with %q and contain %q", msg, prefix, tc.want)
			}
			if tc.name == "repository" && msg != key+tc.want {
				t.Errorf("error:\n%s\nwant\n%s", msg, key+tc.want)
			}
		})
	}
}

// What resolving can give passes.
func TestCheckAccepts(t *testing.T) {
	mcr := "mcr.microsoft.com/oryx/{platform}-sdk:{flavor}-{version}"
	for name, e := range map[string]Entry{
		"exact":          entry("golang@1.23.4", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")}),
		"exact, respelt": entry("dotnet@8.0.404", "bookworm", "8.0.404_8.0.11", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")}),
		"default by its tag": func() Entry {
			e := entry("nodejs@default", "bookworm", "20.11.1", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")})
			e.Tag = "bookworm-default"
			return e
		}(),
		"latest":   entry("nodejs@latest", "bookworm", "22.1.0", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")}),
		"range":    entry("nodejs@>=20 <22", "bookworm", "21.7.3", dg("a"), map[string]digest.Digest{"linux/arm/v7": dg("b")}),
		"full ref": {Key: Key{Ref: "reg.test/x/python-sdk@3.11", Flavor: "bullseye", Source: mcr}, Version: "3.11.9", Repository: "reg.test/x/python-sdk", Tag: "bullseye-3.11.9", Digest: dg("a"), Platforms: map[string]digest.Digest{"linux/amd64": dg("a")}},
		"version file": {Key: Key{Ref: "python@file:sub/.python-version", Flavor: "bookworm", Source: mcr, Constraint: "3.11"},
			Version: "3.11.9", Repository: "mcr.microsoft.com/oryx/python-sdk", Tag: "bookworm-3.11.9", Digest: dg("a"), Platforms: map[string]digest.Digest{"linux/amd64": dg("a")}},
		"flavorless template": {Key: Key{Ref: "golang@1.23", Flavor: "bookworm", Source: "reg.test/{platform}:v{version}"},
			Version: "1.23.4", Repository: "reg.test/golang", Tag: "v1.23.4", Digest: dg("a"), Platforms: map[string]digest.Digest{"linux/amd64": dg("a")}},
	} {
		if _, err := Parse((&File{SDKs: []Entry{e}}).Marshal()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Check against a line: the entry must be the line's, and the rules apply
// to what the line asks.
func TestCheckAgainstLine(t *testing.T) {
	want := func(ref, src string) Want {
		r, err := resolver.ParseRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		return Want{Ref: r, Source: resolver.MustParseSource(src)}
	}
	if err := good().Check(want("golang@1.23", source)); err != nil {
		t.Errorf("the line's own entry: %v", err)
	}
	for _, tc := range []struct {
		name string
		w    Want
		msg  string
	}{
		{"another ref", want("golang@1.24", source), `ref "golang@1.23" is not the line's reference "golang@1.24"; version "1.23.4" does not satisfy the reference's constraint "1.24"`},
		{"another source", want("golang@1.23", "reg.test/{platform}:{flavor}-{version}"), `source "` + source + `" is not the build's source template "reg.test/{platform}:{flavor}-{version}"; repository "127.0.0.1:5000/sdks/golang" is not the one the source template gives for golang ("reg.test/golang")`},
	} {
		err := good().Check(tc.w)
		var ee *EntryError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an *EntryError with %q", tc.name, err, tc.msg)
		}
	}
	// A version file's line carries the file's constraint.
	e := Entry{Key: Key{Ref: "python@file:.python-version", Flavor: "bookworm", Source: source, Constraint: "3.11"},
		Version: "3.11.9", Repository: "127.0.0.1:5000/sdks/python", Tag: "bookworm-3.11.9", Digest: dg("a"), Platforms: map[string]digest.Digest{"linux/amd64": dg("a")}}
	w := want("python@3.12", source)
	w.Ref.Raw, w.FromFile = "python@file:.python-version", true
	if err := e.Check(w); err == nil || !strings.Contains(err.Error(), `constraint "3.11" is not the line's "3.12"`) {
		t.Errorf("a file's other constraint: %v", err)
	}
}

// Parse keeps the valid entries and names every invalid one.
func TestParseInvalidEntries(t *testing.T) {
	f := sample()
	f.SDKs[1].Repository = "127.0.0.1:5000/sdks/evil"
	f.SDKs[3].Version = "3.11.9\n"
	got, err := Parse(f.Marshal())
	var bad *InvalidEntriesError
	if !errors.As(err, &bad) || len(bad.Entries) != 2 {
		t.Fatalf("Parse: %v", err)
	}
	if len(got.SDKs) != 2 || got.SDKs[0].Ref != "golang@1.23" || got.SDKs[1].Flavor != "bullseye" {
		t.Errorf("kept %+v", got.SDKs)
	}
	for _, k := range []Key{f.SDKs[1].Key, f.SDKs[3].Key} {
		if _, ok := bad.Of(k); !ok {
			t.Errorf("%v not named", k)
		}
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 {
		t.Errorf("want one line per entry: %q", err)
	}
}

// A key that needs quoting is quoted: a message cannot be broken by it.
func TestCheckQuotesKey(t *testing.T) {
	e := good()
	e.Ref = "golang@1.23\nRUN evil"
	_, err := Parse((&File{SDKs: []Entry{e}}).Marshal())
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `entry "golang@1.23\nRUN evil" (bookworm, `) {
		t.Errorf("error %q", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	dt := append([]byte(sampleJSON), bytes.Repeat([]byte(" "), MaxSize)...)
	_, err := Parse(dt)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "invalid SDK lockfile: larger than 1 MiB (1048576 bytes), the most a lock may hold") {
		t.Errorf("error %v", err)
	}
	if _, err := Parse(dt[:MaxSize]); err != nil {
		t.Errorf("a lock of MaxSize bytes: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	name := t.TempDir() + "/Dockerfile.sdk.lock"
	if err := os.WriteFile(name, bytes.Repeat([]byte(" "), 3*MaxSize), 0o644); err != nil {
		t.Fatal(err)
	}
	dt, err := ReadFile(name)
	if err != nil || len(dt) != MaxSize+1 {
		t.Errorf("read %d bytes, %v; want %d", len(dt), err, MaxSize+1)
	}
	if _, err := Parse(dt); !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse: %v", err)
	}
	if _, err := ReadFile(name + ".nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}
