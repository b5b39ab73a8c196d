package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

const source = "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}"

// dg is a valid sha256 digest made of one repeated hex character.
func dg(c string) digest.Digest { return digest.Digest("sha256:" + strings.Repeat(c, 64)) }

func entry(ref, flavor, version string, d digest.Digest, platforms map[string]digest.Digest) Entry {
	platform, _, _ := strings.Cut(ref, "@")
	return Entry{
		Key:        Key{Ref: ref, Flavor: flavor, Source: source},
		Version:    version,
		Repository: "127.0.0.1:5000/sdks/" + platform,
		Tag:        flavor + "-" + version,
		Digest:     d,
		Platforms:  platforms,
	}
}

// sample is a lock with entries out of order: two flavors of one ref, a
// range with characters encoding/json escapes by default, and an index
// locked for two platforms.
func sample() *File {
	return &File{Version: SchemaVersion, SDKs: []Entry{
		entry("python@3.11", "bullseye", "3.11.9", dg("3"), map[string]digest.Digest{"linux/amd64": dg("3")}),
		entry("nodejs@>=20 <22", "bookworm", "20.11.1", dg("2"), map[string]digest.Digest{"linux/amd64": dg("2")}),
		entry("golang@1.23", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{"linux/arm64": dg("c"), "linux/amd64": dg("b")}),
		entry("python@3.11", "bookworm", "3.11.9", dg("4"), map[string]digest.Digest{"linux/amd64": dg("4")}),
	}}
}

const sampleJSON = `{
  "version": 2,
  "sdks": [
    {
      "ref": "golang@1.23",
      "flavor": "bookworm",
      "source": "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}",
      "version": "1.23.4",
      "repository": "127.0.0.1:5000/sdks/golang",
      "tag": "bookworm-1.23.4",
      "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "platforms": {
        "linux/amd64": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "linux/arm64": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
      }
    },
    {
      "ref": "nodejs@>=20 <22",
      "flavor": "bookworm",
      "source": "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}",
      "version": "20.11.1",
      "repository": "127.0.0.1:5000/sdks/nodejs",
      "tag": "bookworm-20.11.1",
      "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
      "platforms": {
        "linux/amd64": "sha256:2222222222222222222222222222222222222222222222222222222222222222"
      }
    },
    {
      "ref": "python@3.11",
      "flavor": "bookworm",
      "source": "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}",
      "version": "3.11.9",
      "repository": "127.0.0.1:5000/sdks/python",
      "tag": "bookworm-3.11.9",
      "digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
      "platforms": {
        "linux/amd64": "sha256:4444444444444444444444444444444444444444444444444444444444444444"
      }
    },
    {
      "ref": "python@3.11",
      "flavor": "bullseye",
      "source": "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}",
      "version": "3.11.9",
      "repository": "127.0.0.1:5000/sdks/python",
      "tag": "bullseye-3.11.9",
      "digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
      "platforms": {
        "linux/amd64": "sha256:3333333333333333333333333333333333333333333333333333333333333333"
      }
    }
  ]
}
`

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "Dockerfile.sdk.lock",
		"Dockerfile":              "Dockerfile.sdk.lock",
		"app.Dockerfile":          "app.Dockerfile.sdk.lock",
		"./sub//x.Dockerfile":     "sub/x.Dockerfile.sdk.lock",
		"/abs/path/Dockerfile":    "/abs/path/Dockerfile.sdk.lock",
		"../up/Dockerfile.custom": "../up/Dockerfile.custom.sdk.lock",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarshal(t *testing.T) {
	f := sample()
	before := fmt.Sprint(f.SDKs)
	got := f.Marshal()
	if string(got) != sampleJSON {
		t.Errorf("Marshal:\n%s\nwant:\n%s", got, sampleJSON)
	}
	if fmt.Sprint(f.SDKs) != before {
		t.Error("Marshal reordered the caller's entries")
	}
	// Any order of entries, any order of map insertion: the same bytes.
	rev := &File{Version: SchemaVersion}
	for i := len(f.SDKs) - 1; i >= 0; i-- {
		rev.SDKs = append(rev.SDKs, f.SDKs[i])
	}
	for i := 0; i < 20; i++ {
		if !bytes.Equal(rev.Marshal(), got) {
			t.Fatal("Marshal is not deterministic")
		}
	}
	if !bytes.HasSuffix(got, []byte("}\n")) || bytes.HasSuffix(got, []byte("\n\n")) {
		t.Error("want exactly one trailing newline")
	}
	// Marshal writes the current version whatever the File says.
	if old := (&File{Version: 0, SDKs: f.SDKs}).Marshal(); !bytes.Equal(old, got) {
		t.Error("Marshal of a File with Version 0 differs")
	}
	// Round trip.
	p, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Marshal(), got) {
		t.Error("Parse(Marshal(f)).Marshal() differs")
	}
}

func TestMarshalEmpty(t *testing.T) {
	want := "{\n  \"version\": 2,\n  \"sdks\": []\n}\n"
	for _, f := range []*File{{}, {SDKs: []Entry{}}} {
		if got := string(f.Marshal()); got != want {
			t.Errorf("Marshal(%+v) = %q, want %q", f, got, want)
		}
	}
	if _, err := Parse([]byte(want)); err != nil {
		t.Errorf("Parse(empty lock): %v", err)
	}
}

// mutate returns sampleJSON parsed into generic JSON, changed by fn, and
// marshalled again.
func mutate(t *testing.T, fn func(doc map[string]any, sdk0 map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(sampleJSON), &doc); err != nil {
		t.Fatal(err)
	}
	fn(doc, doc["sdks"].([]any)[0].(map[string]any))
	dt, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// invalid are documents Parse must reject, with part of its message. The
// schema test checks that docs/sdk.lock.schema.json rejects them too.
func invalid(t *testing.T) []struct {
	name string
	doc  []byte
	msg  string
} {
	type tc = struct {
		name string
		doc  []byte
		msg  string
	}
	const K = "entry golang@1.23 (bookworm, 127.0.0.1:5000/sdks/{platform}:{flavor}-{version}): "
	return []tc{
		{"not JSON", []byte(`{"version": 1, "sdks": [`), "invalid SDK lockfile"},
		{"not an object", []byte(`[]`), "invalid SDK lockfile"},
		{"version 0", mutate(t, func(d, _ map[string]any) { d["version"] = 0 }), "SDK lockfile version 0 is not supported"},
		{"version missing", mutate(t, func(d, _ map[string]any) { delete(d, "version") }), "SDK lockfile version 0 is not supported"},
		{"version 3", mutate(t, func(d, _ map[string]any) { d["version"] = 3 }), "SDK lockfile version 3 is not supported (this sdkfront reads version 2)"},
		{"version string", mutate(t, func(d, _ map[string]any) { d["version"] = "1" }), "invalid SDK lockfile"},
		{"unknown top-level field", mutate(t, func(d, _ map[string]any) { d["generated"] = "2024-01-01" }), `key "generated" is not a lock field`},
		{"unknown entry field", mutate(t, func(_, e map[string]any) { e["platform"] = "golang" }), `entry 1 (golang@1.23): key "platform" is not a lock field`},
		{"ref missing", mutate(t, func(_, e map[string]any) { delete(e, "ref") }), "entry 1 (): ref, flavor and source must be set"},
		{"flavor empty", mutate(t, func(_, e map[string]any) { e["flavor"] = "" }), "ref, flavor and source must be set"},
		{"source missing", mutate(t, func(_, e map[string]any) { delete(e, "source") }), "ref, flavor and source must be set"},
		{"version empty", mutate(t, func(_, e map[string]any) { e["version"] = "" }), "entry 1 (golang@1.23): version, repository, tag and digest must be set"},
		{"repository missing", mutate(t, func(_, e map[string]any) { delete(e, "repository") }), "version, repository, tag and digest must be set"},
		{"tag missing", mutate(t, func(_, e map[string]any) { delete(e, "tag") }), "version, repository, tag and digest must be set"},
		{"digest missing", mutate(t, func(_, e map[string]any) { delete(e, "digest") }), "version, repository, tag and digest must be set"},
		{"digest short", mutate(t, func(_, e map[string]any) { e["digest"] = "sha256:abc" }), K + `digest "sha256:abc" is not a digest: want sha256: and 64 lowercase hexadecimal digits`},
		{"digest algorithm", mutate(t, func(_, e map[string]any) { e["digest"] = "md5:" + strings.Repeat("a", 32) }), `digest "md5:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is not a digest`},
		{"digest upper case", mutate(t, func(_, e map[string]any) { e["digest"] = "sha256:" + strings.Repeat("A", 64) }), `digest "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" is not a digest`},
		{"digest sha512", mutate(t, func(_, e map[string]any) { e["digest"] = "sha512:" + strings.Repeat("a", 128) }), `digest "sha512:aaaa`},
		{"version not a version", mutate(t, func(_, e map[string]any) { e["version"] = "1.23.4\"\nRUN x" }), K + `version "1.23.4\"\nRUN x" is not a version`},
		{"version too long", mutate(t, func(_, e map[string]any) { e["version"] = strings.Repeat("1", 129) }), `is not a version`},
		{"flavor with a dash", mutate(t, func(_, e map[string]any) { e["flavor"] = "book-worm" }), `flavor "book-worm" is not a flavor`},
		{"ref with a newline", mutate(t, func(_, e map[string]any) { e["ref"] = "golang@1.23\n" }), `ref "golang@1.23\n" is not an SDK reference`},
		{"source too long", mutate(t, func(_, e map[string]any) {
			e["source"] = "r/" + strings.Repeat("x", 600) + "/{platform}:{version}"
		}), `is longer than 512`},
		{"platforms missing", mutate(t, func(_, e map[string]any) { delete(e, "platforms") }), "no platforms"},
		{"platforms empty", mutate(t, func(_, e map[string]any) { e["platforms"] = map[string]any{} }), "no platforms"},
		{"platform bad", mutate(t, func(_, e map[string]any) {
			e["platforms"] = map[string]any{"linux/amd64/v2/x": string(dg("b"))}
		}), `platform "linux/amd64/v2/x"`},
		{"platform digest bad", mutate(t, func(_, e map[string]any) {
			e["platforms"] = map[string]any{"linux/amd64": "sha256:xyz"}
		}), `platforms[linux/amd64] "sha256:xyz" is not a digest`},
		{"platform not normalized", mutate(t, func(_, e map[string]any) {
			e["platforms"] = map[string]any{"linux/aarch64": string(dg("b"))}
		}), `platform "linux/aarch64" is not normalized: write it as linux/arm64`},
		{"platform without os", mutate(t, func(_, e map[string]any) {
			e["platforms"] = map[string]any{"amd64": string(dg("b"))}
		}), `platform "amd64" is not a platform: want os/arch[/variant] in lowercase`},
		{"duplicate key", mutate(t, func(d, _ map[string]any) {
			sdks := d["sdks"].([]any)
			d["sdks"] = append(sdks, sdks[0])
		}), "SDK lockfile has two entries for golang@1.23 (bookworm, 127.0.0.1:5000/sdks/{platform}:{flavor}-{version})"},
		{"signature kind", mutate(t, func(_, e map[string]any) { e["signatures"] = []any{sigJSON("cosign")} }), "entry 1 (golang@1.23): signature 1: kind cosign is not one of notation, sigstore"},
		{"signature digest", mutate(t, func(_, e map[string]any) {
			s := sigJSON("sigstore")
			s["digest"] = "sha256:abc"
			e["signatures"] = []any{s}
		}), "signature 1: digest sha256:abc is not a sha256 digest"},
		{"signature signer missing", mutate(t, func(_, e map[string]any) {
			s := sigJSON("notation")
			delete(s, "signer")
			e["signatures"] = []any{s}
		}), "signature 1: policy and signer must be set"},
		{"signature unknown field", mutate(t, func(_, e map[string]any) {
			s := sigJSON("notation")
			s["Signer"] = "CN=x"
			e["signatures"] = []any{s}
		}), `key "Signer" is not a lock field (did you mean "signer"?)`},
		{"signatures in version 1", mutate(t, func(d, e map[string]any) {
			d["version"] = 1
			e["signatures"] = []any{sigJSON("sigstore")}
		}), "signatures are recorded from lock version 2 on, not in version 1"},
		{"trailing data", append([]byte(sampleJSON), []byte(`{"version": 1, "sdks": []}`)...), "invalid SDK lockfile: unexpected data after the top-level object"},
	}
}

// sigJSON is a valid signature record of kind, as generic JSON.
func sigJSON(kind string) map[string]any {
	return map[string]any{"kind": kind, "policy": "acme", "digest": string(dg("e")), "signer": "CN=acme"}
}

// A version 1 lock is read as it was; a version 2 lock's signatures are
// read, and written back sorted; one kind twice is refused.
func TestParseSignatures(t *testing.T) {
	v1 := mutate(t, func(d, _ map[string]any) { d["version"] = 1 })
	f, err := Parse(v1)
	if err != nil {
		t.Fatalf("version 1: %v", err)
	}
	if len(f.SDKs) != 4 || f.SDKs[0].Signatures != nil {
		t.Errorf("version 1: %+v", f.SDKs)
	}
	if got := f.Marshal(); string(got) != sampleJSON {
		t.Errorf("version 1, written again:\n%s\nwant:\n%s", got, sampleJSON)
	}

	signed := mutate(t, func(_, e map[string]any) {
		e["signatures"] = []any{sigJSON("sigstore"), sigJSON("notation")}
	})
	f, err = Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	sigs := f.SDKs[0].Signatures
	if len(sigs) != 2 || sigs[0].Kind != "sigstore" || sigs[1].Signer != "CN=acme" || sigs[1].Digest != dg("e") {
		t.Fatalf("signatures: %+v", sigs)
	}
	out := f.Marshal()
	i, j := strings.Index(string(out), `"kind": "notation"`), strings.Index(string(out), `"kind": "sigstore"`)
	if i < 0 || j < 0 || i > j {
		t.Errorf("Marshal does not sort the signatures by kind:\n%s", out)
	}
	if f.SDKs[0].Signatures[0].Kind != "sigstore" {
		t.Error("Marshal reordered the caller's signatures")
	}
	back, err := Parse(out)
	if err != nil || len(back.SDKs[0].Signatures) != 2 {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if strings.Count(string(out), `"signatures"`) != 1 {
		t.Errorf("an entry without signatures has the field:\n%s", out)
	}

	twice := mutate(t, func(_, e map[string]any) {
		e["signatures"] = []any{sigJSON("notation"), sigJSON("notation")}
	})
	if _, err := Parse(twice); err == nil || !strings.Contains(err.Error(), "signature 2: a second notation signature") {
		t.Errorf("one kind twice: %v", err)
	}
}

func TestParse(t *testing.T) {
	f, err := Parse([]byte(sampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.SDKs) != 4 || f.SDKs[0].Ref != "golang@1.23" || f.SDKs[0].Platforms["linux/arm64"] != dg("c") {
		t.Errorf("Parse: %+v", f)
	}
	// Same key but different flavor or source is a different entry.
	other := mutate(t, func(d, _ map[string]any) {
		sdks := d["sdks"].([]any)
		dup := map[string]any{}
		for k, v := range sdks[0].(map[string]any) {
			dup[k] = v
		}
		dup["source"] = "mcr.microsoft.com/oryx/{platform}-sdk:{flavor}-{version}"
		dup["repository"] = "mcr.microsoft.com/oryx/golang-sdk"
		d["sdks"] = append(sdks, dup)
	})
	if _, err := Parse(other); err != nil {
		t.Errorf("same ref, other source: %v", err)
	}
	for _, tc := range invalid(t) {
		_, err := Parse(tc.doc)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Parse error %v, want one containing %q", tc.name, err, tc.msg)
		}
	}
}

func TestLookup(t *testing.T) {
	var nilFile *File
	if _, ok := nilFile.Lookup(Key{Ref: "golang@1.23"}); ok {
		t.Error("Lookup on a nil File found something")
	}
	f := sample()
	k := Key{Ref: "golang@1.23", Flavor: "bookworm", Source: source}
	e, ok := f.Lookup(k)
	if !ok || e.Version != "1.23.4" {
		t.Fatalf("Lookup(%v) = %+v, %v", k, e, ok)
	}
	if _, ok := f.Lookup(Key{Ref: "golang@1.23", Flavor: "bullseye", Source: source}); ok {
		t.Error("Lookup matched another flavor")
	}
	if _, ok := f.Lookup(Key{Ref: "golang@1.23", Flavor: "bookworm", Source: source, Constraint: "1.23"}); ok {
		t.Error("Lookup matched another constraint")
	}
}

// Sorted is the order Marshal writes: by ref, flavor, source, constraint,
// a ref before the longer refs it starts.
func TestSorted(t *testing.T) {
	f := sample()
	short := entry("golang@1", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{"linux/amd64": dg("b")})
	file := short
	file.Ref, file.Constraint = "golang@file:go.mod", "1.23"
	other := short
	other.Source = "mcr.microsoft.com/oryx/{platform}-sdk:{flavor}-{version}"
	f.SDKs = append(f.SDKs, file, other, short)
	var got []string
	for _, e := range f.Sorted() {
		got = append(got, e.Ref+" "+e.Flavor+" "+e.Source[:3]+" "+e.Constraint)
	}
	want := []string{
		"golang@1 bookworm 127 ", "golang@1 bookworm mcr ", "golang@1.23 bookworm 127 ", "golang@file:go.mod bookworm 127 1.23",
		"nodejs@>=20 <22 bookworm 127 ", "python@3.11 bookworm 127 ", "python@3.11 bullseye 127 ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Sorted:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var m File
	if err := json.Unmarshal(f.Marshal(), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.SDKs, f.Sorted()) {
		t.Error("Marshal writes another order than Sorted")
	}
}

func TestPlatformKey(t *testing.T) {
	for _, tc := range []struct {
		p    ocispecs.Platform
		want string
	}{
		{ocispecs.Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{ocispecs.Platform{OS: "linux", Architecture: "x86_64"}, "linux/amd64"},
		{ocispecs.Platform{OS: "linux", Architecture: "aarch64"}, "linux/arm64"},
		{ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, "linux/arm64"},
		{ocispecs.Platform{OS: "linux", Architecture: "arm"}, "linux/arm/v7"},
		{ocispecs.Platform{OS: "Linux", Architecture: "armhf"}, "linux/arm/v7"},
		{ocispecs.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"}, "windows(10.0.17763.1234)/amd64"},
	} {
		if got := PlatformKey(tc.p); got != tc.want {
			t.Errorf("PlatformKey(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestResolutionRoundTrip(t *testing.T) {
	amd64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	r := resolver.Resolution{
		Ref: "golang@1.23", Platform: "golang", Flavor: "bookworm", Version: "1.23.4",
		Repository: "127.0.0.1:5000/sdks/golang", Tag: "bookworm-1.23.4", Digest: dg("a"), Target: arm64,
	}
	e := FromResolution(r, source, arm64, dg("c"))
	want := entry("golang@1.23", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{"linux/arm64": dg("c")})
	if !reflect.DeepEqual(e, want) {
		t.Errorf("FromResolution:\n%+v\nwant\n%+v", e, want)
	}
	got, ok := e.Resolution("golang", arm64)
	if !ok || !got.Locked || got.Version != r.Version || got.Digest != r.Digest || got.Repository != r.Repository ||
		got.Tag != r.Tag || got.Target.Architecture != "arm64" || got.Platforms["linux/arm64"] != dg("c") {
		t.Errorf("Resolution: %+v, %v", got, ok)
	}
	// linux/arm64 without the variant is the same platform.
	if _, ok := e.Resolution("golang", ocispecs.Platform{OS: "linux", Architecture: "arm64"}); !ok {
		t.Error("Resolution(linux/arm64) not found")
	}
	if _, ok := e.Resolution("golang", amd64); ok {
		t.Error("Resolution for a platform the entry was not locked for")
	}
}
