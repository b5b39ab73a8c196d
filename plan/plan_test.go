package plan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/lock"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/trust"
)

// fakeHost serves version files and os-releases from tables, and counts
// the base images it is asked for.
type fakeHost struct {
	files    map[string]string // path -> content
	releases map[string]string // base -> codename; missing: none
	notRead  bool              // every base: ErrNotRead
	fail     map[string]error  // base -> error

	mu    sync.Mutex
	reads map[string]int // "base platform" -> count
}

func (h *fakeHost) ReadFile(_ context.Context, vf dockerfile.VersionFile) ([]byte, error) {
	dt, ok := h.files[vf.Path]
	if !ok {
		return nil, &FileError{Path: vf.Path, Where: "the build context", Err: fs.ErrNotExist}
	}
	return []byte(dt), nil
}

func (h *fakeHost) OSRelease(_ context.Context, base string, p ocispecs.Platform) ([]byte, error) {
	h.mu.Lock()
	if h.reads == nil {
		h.reads = map[string]int{}
	}
	h.reads[base+" "+p.Architecture]++
	h.mu.Unlock()
	if h.notRead {
		return nil, ErrNotRead
	}
	if err := h.fail[base]; err != nil {
		return nil, err
	}
	if c, ok := h.releases[base]; ok {
		return []byte("VERSION_CODENAME=" + c + "\n"), nil
	}
	return nil, nil
}

var (
	amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispecs.Platform{OS: "linux", Architecture: "arm64"}
)

func mustRead(t *testing.T, df string) *dockerfile.File {
	t.Helper()
	f, err := dockerfile.Read([]byte(df))
	if err != nil || f.ParseErr != nil {
		t.Fatal(err, f.ParseErr)
	}
	return f
}

func options(t *testing.T, f *dockerfile.File, lenient bool, ps ...ocispecs.Platform) Options {
	t.Helper()
	s, err := f.Settings(nil)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Build: amd64, Targets: ps, Settings: s, Lenient: lenient}
}

// A detected flavor is the key's, with the line's own to fall back to;
// a flavor not read is not known; each base is read once per platform.
func TestDetect(t *testing.T) {
	f := mustRead(t, `FROM debian:bullseye AS a
SDK golang@1.23
SDK nodejs@20
FROM debian:bookworm
SDK golang@1.23
FROM busybox
SDK golang@1.23
FROM scratch
SDK golang@1.23
FROM debian:trixie
SDK golang@1.23 --flavor=bullseye
`)
	h := &fakeHost{releases: map[string]string{"debian:bullseye": "bullseye", "debian:bookworm": "bookworm", "debian:trixie": "trixie"}}
	p, errs := Make(context.Background(), h, f, options(t, f, false, amd64, arm64))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, n := range p.Needs {
		got = append(got, fmt.Sprintf("%s %d %s/%s", n.PlatformKey(), n.Line, n.Flavor, n.Fallback))
	}
	want := []string{
		"linux/amd64 2 bullseye/bookworm", "linux/amd64 3 bullseye/bookworm", "linux/amd64 5 bookworm/",
		"linux/amd64 7 bookworm/", "linux/amd64 9 bookworm/", "linux/amd64 11 bullseye/",
		"linux/arm64 2 bullseye/bookworm", "linux/arm64 3 bullseye/bookworm", "linux/arm64 5 bookworm/",
		"linux/arm64 7 bookworm/", "linux/arm64 9 bookworm/", "linux/arm64 11 bullseye/",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("needs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// scratch is never read, trixie's line names its flavor.
	wantReads := map[string]int{"debian:bullseye amd64": 1, "debian:bullseye arm64": 1, "debian:bookworm amd64": 1, "debian:bookworm arm64": 1, "busybox amd64": 1, "busybox arm64": 1}
	if fmt.Sprint(h.reads) != fmt.Sprint(wantReads) {
		t.Errorf("reads %v, want %v", h.reads, wantReads)
	}
	if k := p.Needs[0].Key(); k.Flavor != "bullseye" || k.Ref != "golang@1.23" {
		t.Errorf("key %+v", k)
	}

	h = &fakeHost{notRead: true}
	p, errs = Make(context.Background(), h, f, options(t, f, true, amd64))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := p.Needs[0]; n.Flavor != "" || n.Fallback != "bookworm" {
		t.Errorf("not read: flavor %q, fallback %q; want any flavor, falling back to bookworm", n.Flavor, n.Fallback)
	}
}

// lines are errors as "LINE: message".
func lines(t *testing.T, errs []error) []string {
	t.Helper()
	var out []string
	for _, err := range errs {
		var le *LineError
		if !errors.As(err, &le) {
			t.Fatalf("%v is no LineError", err)
		}
		out = append(out, fmt.Sprintf("%d: %v", le.Line, err))
	}
	return out
}

func TestFlavor(t *testing.T) {
	for _, tc := range []struct {
		def, codename    string
		known            bool
		flavor, fallback string
	}{
		{"bookworm", "bullseye", true, "bullseye", "bookworm"},
		{"bookworm", "bookworm", true, "bookworm", ""},
		{"bookworm", "", true, "bookworm", ""},
		{"bookworm", "", false, "", "bookworm"},
	} {
		if f, fb := Flavor(tc.def, tc.codename, tc.known); f != tc.flavor || fb != tc.fallback {
			t.Errorf("Flavor(%q, %q, %v) = %q, %q; want %q, %q", tc.def, tc.codename, tc.known, f, fb, tc.flavor, tc.fallback)
		}
	}
}

// A base that cannot be read fails the lines built on it, each once, in
// line order; a host's panic reaches the caller's goroutine.
func TestDetectErrors(t *testing.T) {
	f := mustRead(t, "FROM lab/x\nSDK golang@1.23\nSDK nodejs@20\nFROM lab/y\nSDK golang@1.23\n")
	h := &fakeHost{fail: map[string]error{"lab/x": errors.New("denied")}}
	_, errs := Make(context.Background(), h, f, options(t, f, true, amd64))
	got := lines(t, errs)
	const msg = "cannot read the flavor of the base image lab/x for linux/amd64: denied; name the flavor (--flavor=, # sdk-flavor= or --build-arg SDK_FLAVOR=) to lock without reading it"
	if want := []string{"2: " + msg, "3: " + msg}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the host's panic", r)
		}
	}()
	p, _ := Read(context.Background(), h, f, options(t, f, true, amd64))
	p.Detect(context.Background(), panicky{h})
	t.Error("Detect returned after its host panicked")
}

type panicky struct{ *fakeHost }

func (panicky) OSRelease(context.Context, string, ocispecs.Platform) ([]byte, error) { panic("boom") }

// Version files are read once, and their errors are at their lines: every
// line's, sorted, when lenient (sdkfront lock); a build's first.
func TestReadVersionFiles(t *testing.T) {
	f := mustRead(t, `FROM scratch
SDK python@file:.python-version
SDK golang@file:missing/go.mod
SDK python@file:.python-version --to=/py2
SDK python@file:other/.python-version --to=/py3
`)
	h := &fakeHost{files: map[string]string{".python-version": "3.12\n", "other/.python-version": "3.12; rm -rf /"}}
	_, errs := Read(context.Background(), h, f, options(t, f, true, amd64, arm64))
	got := lines(t, errs)
	want := []string{
		"3: SDK golang@file:missing/go.mod: missing/go.mod is not in the build context (or .dockerignore excludes it)",
		`5: SDK python@file:other/.python-version: other/.python-version: "3.12;" is not a version or range sdkfront understands`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lenient errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, errs = Read(context.Background(), h, f, options(t, f, false, amd64, arm64))
	if len(errs) != 1 || errs[0].Error() != want[0][3:] {
		t.Errorf("a build's errors: %v, want %q alone", errs, want[0][3:])
	}

	h.files["missing/go.mod"] = "go 1.23.4\n"
	h.files["other/.python-version"] = "3.11"
	p, errs := Read(context.Background(), h, f, options(t, f, false, amd64))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if k := p.Needs[1].Key(); k.Constraint != "1.23.4" {
		t.Errorf("go.mod's key %+v, want the file's constraint", k)
	}
}

func TestFileError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("open: %w", fs.ErrNotExist), "go.mod is not in the build context src (or .dockerignore excludes it)"},
		{errors.New("permission denied"), "reading go.mod from the build context src: permission denied"},
	} {
		if got := (&FileError{Path: "go.mod", Where: "the build context src", Err: tc.err}).Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

// Verify checks each digest once, however many needs resolve to it, and
// every caller gets its verdict.
func TestVerifyOncePerDigest(t *testing.T) {
	var calls atomic.Int32
	bad := digest.FromString("bad")
	sig := trust.Signature{Kind: trust.Sigstore, Policy: "acme", Level: trust.Strict, Digest: digest.FromString("sig"), Signer: "key sha256:ab"}
	p := &Plan{opts: Options{Verify: func(_ context.Context, res resolver.Resolution) (*trust.Verdict, error) {
		calls.Add(1)
		if res.Digest == bad {
			return nil, errors.New("unsigned")
		}
		return &trust.Verdict{Signatures: []trust.Signature{sig, {Kind: trust.Notation, Policy: "rest", Level: trust.Skip}}}, nil
	}}}
	good := resolver.Resolution{Repository: "reg/sdks/golang", Digest: digest.FromString("good")}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := p.Verify(context.Background(), good); err != nil || v == nil || len(v.Signatures) != 2 {
				t.Error(v, err)
			}
		})
	}
	wg.Wait()
	badRes := resolver.Resolution{Repository: "reg/sdks/golang", Digest: bad}
	for range 2 {
		if _, err := p.Verify(context.Background(), badRes); err == nil || err.Error() != "unsigned" {
			t.Errorf("bad digest: %v", err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want one per digest", n)
	}
	// The plan keeps each digest's verdict for its host to record: the
	// verified signature only, the skipped policy is none.
	got := Signatures(p.Verdict(good))
	if len(got) != 1 || got[0] != (lock.Signature{Kind: "sigstore", Policy: "acme", Digest: sig.Digest, Signer: sig.Signer}) {
		t.Errorf("recorded signatures: %+v", got)
	}
	if s := SignedBy(p.Verdict(good)); s != "signed by key sha256:ab, policy acme" {
		t.Errorf("SignedBy: %q", s)
	}
	if p.Verdict(badRes) != nil {
		t.Error("a failed digest has a verdict")
	}
	if v, err := (&Plan{}).Verify(context.Background(), good); err != nil || v != nil {
		t.Errorf("no Verify: %v %v", v, err)
	}
}
