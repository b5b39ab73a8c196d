package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

// baseEntry is one tar entry: a file (Body), a symlink (Link), a hard
// link (Hard) or a directory (Name ending in /).
type baseEntry = testregistry.Entry

func baseZstd(t *testing.T, dt []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(dt); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func osReleaseOf(codename string) string {
	return "PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=" + codename + "\nID=debian\n"
}

// debianRoot is the usual layout: /etc/os-release -> ../usr/lib/os-release.
func debianRoot(codename string) []baseEntry {
	return []baseEntry{
		{Name: "etc/"}, {Name: "usr/"}, {Name: "usr/lib/"},
		{Name: "etc/os-release", Link: "../usr/lib/os-release"},
		{Name: "usr/lib/os-release", Body: osReleaseOf(codename)},
		{Name: "bin/sh", Body: "#!"},
	}
}

// blobFault handles a GET of blob d instead of the registry, or passes it
// on (returning false).
type blobFault func(w http.ResponseWriter, r *http.Request, d digest.Digest, next http.Handler) bool

// baseFixture is a registry whose blob GETs go through a fault, and that
// records them.
type baseFixture struct {
	*testregistry.Registry               // pushes go past the fault
	done                   chan struct{} // closed at the end: faults that stall return

	mu    sync.Mutex
	fault blobFault
	gate  func(http.Handler) http.Handler // in front of every request, if set
	blobs []digest.Digest                 // GETs, in order
}

func newBaseFixture(t *testing.T) *baseFixture {
	t.Helper()
	f := &baseFixture{done: make(chan struct{})}
	f.Registry = testregistry.New(t, testregistry.Wrap(f.front))
	t.Cleanup(func() { close(f.done) }) // before the registry closes
	return f
}

// front puts the fixture's gate and blob faults in front of backend.
func (f *baseFixture) front(backend http.Handler) http.Handler {
	blobs := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir, last := path.Split(r.URL.Path)
		if r.Method == http.MethodGet && strings.HasSuffix(dir, "/blobs/") {
			d := digest.Digest(last)
			f.mu.Lock()
			f.blobs = append(f.blobs, d)
			fault := f.fault
			f.mu.Unlock()
			if fault != nil && fault(w, r, d, backend) {
				return
			}
		}
		backend.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		gate := f.gate
		f.mu.Unlock()
		if gate != nil {
			gate(blobs).ServeHTTP(w, r)
			return
		}
		blobs.ServeHTTP(w, r)
	})
}

func (f *baseFixture) setFault(fault blobFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

func (f *baseFixture) requested() []digest.Digest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]digest.Digest(nil), f.blobs...)
}

func layerDigest(t *testing.T, l v1.Layer) digest.Digest {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.Digest(d.String())
}

var amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}

// readCodename reads the codename of ref's os-release for p.
func readCodename(ctx context.Context, c *Client, ref string, p ocispecs.Platform, lim ReadLimits) (string, []byte, error) {
	dt, err := c.ReadImageFile(ctx, ref, p, resolver.OSReleasePaths, lim)
	return resolver.FlavorFromOSRelease(dt), dt, err
}

func TestReadImageFile(t *testing.T) {
	f := newBaseFixture(t)
	c := New()
	for _, tc := range []struct {
		name   string
		layers [][]baseEntry // bottom first
		want   string
	}{
		{"debian", [][]baseEntry{debianRoot("bookworm")}, "bookworm"},
		{"in a lower layer", [][]baseEntry{debianRoot("bookworm"), {{Name: "app/"}, {Name: "app/x", Body: "y"}}, {{Name: "srv/z", Body: "z"}}}, "bookworm"},
		{"./ prefixes", [][]baseEntry{{{Name: "./etc/os-release", Body: "VERSION_CODENAME='jammy'\n"}}}, "jammy"},
		{"quoted", [][]baseEntry{{{Name: "etc/os-release", Body: "ID=ubuntu\nVERSION_CODENAME=\"noble\"\n"}}}, "noble"},
		{"only /usr/lib/os-release", [][]baseEntry{{{Name: "usr/lib/os-release", Body: osReleaseOf("trixie")}}, {{Name: "app/x", Body: "y"}}}, "trixie"},
		{"upper layer replaces the target", [][]baseEntry{debianRoot("bookworm"), {{Name: "usr/lib/os-release", Body: osReleaseOf("trixie")}}}, "trixie"},
		{"upper layer replaces the link", [][]baseEntry{debianRoot("bookworm"), {{Name: "etc/os-release", Body: osReleaseOf("bullseye")}}}, "bullseye"},
		{"whiteout of /etc/os-release", [][]baseEntry{
			{{Name: "etc/os-release", Body: osReleaseOf("bullseye")}, {Name: "usr/lib/os-release", Body: osReleaseOf("bookworm")}},
			{{Name: "etc/.wh.os-release"}},
		}, "bookworm"},
		{"whiteout of /etc", [][]baseEntry{
			{{Name: "etc/os-release", Body: osReleaseOf("bullseye")}, {Name: "usr/lib/os-release", Body: osReleaseOf("bookworm")}},
			{{Name: ".wh.etc"}},
		}, "bookworm"},
		{"whiteout of both", [][]baseEntry{debianRoot("bookworm"), {{Name: "etc/.wh.os-release"}, {Name: "usr/lib/.wh.os-release"}}}, ""},
		{"opaque directory", [][]baseEntry{debianRoot("bookworm"), {{Name: "usr/lib/"}, {Name: "usr/lib/.wh..wh..opq"}}}, ""},
		{"opaque directory, then a new file", [][]baseEntry{debianRoot("bookworm"), {{Name: "usr/lib/"}, {Name: "usr/lib/.wh..wh..opq"}, {Name: "usr/lib/os-release", Body: osReleaseOf("sid")}}}, "sid"},
		{"symlinked parent directory", [][]baseEntry{
			{{Name: "etc/os-release", Body: osReleaseOf("bullseye")}, {Name: "alt/etc/os-release", Body: osReleaseOf("buster")}},
			{{Name: "etc", Link: "/alt/etc"}},
		}, "buster"},
		{"absolute symlink", [][]baseEntry{{{Name: "etc/os-release", Link: "/usr/lib/os-release"}, {Name: "usr/lib/os-release", Body: osReleaseOf("jammy")}}}, "jammy"},
		{"symlink loop", [][]baseEntry{{{Name: "etc/os-release", Link: "os-release2"}, {Name: "etc/os-release2", Link: "os-release"}, {Name: "usr/lib/os-release", Body: osReleaseOf("focal")}}}, "focal"},
		{"hard link", [][]baseEntry{{{Name: "usr/lib/os-release", Body: osReleaseOf("noble")}, {Name: "etc/os-release", Hard: "usr/lib/os-release"}}}, "noble"},
		{"a directory is no file", [][]baseEntry{{{Name: "usr/lib/os-release", Body: osReleaseOf("bookworm")}}, {{Name: "etc/os-release/"}}}, "bookworm"},
		{"alpine", [][]baseEntry{{{Name: "etc/os-release", Link: "../usr/lib/os-release"}, {Name: "usr/lib/os-release", Body: "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"}}}, ""},
		{"busybox", [][]baseEntry{{{Name: "bin/busybox", Body: "x"}}}, ""},
		{"no layers", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, l := range tc.layers {
				ls = append(ls, testregistry.GzipLayer(t, l...))
			}
			ref := f.Host + "/lab/" + strings.NewReplacer(" ", "-", "/", "", ".", "", ",", "").Replace(tc.name) + ":1"
			f.Push(t, strings.TrimPrefix(ref, f.Host+"/"), testregistry.NewImage(t, "linux/amd64", nil, ls...))
			got, dt, err := readCodename(context.Background(), c, ref, amd64, ReadLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("codename %q, want %q (os-release %q)", got, tc.want, dt)
			}
		})
	}
}

// Layers are read from the top, and those below the one that settles the
// file are not fetched.
func TestReadImageFileTopFirst(t *testing.T) {
	f := newBaseFixture(t)
	bottom := testregistry.GzipLayer(t, baseEntry{Name: "etc/os-release", Body: osReleaseOf("buster")})
	middle := testregistry.GzipLayer(t, debianRoot("bookworm")...)
	top := testregistry.GzipLayer(t, baseEntry{Name: "app/x", Body: "y"})
	f.Push(t, "lab/debian:layers", testregistry.NewImage(t, "linux/amd64", nil, bottom, middle, top))
	// Were the bottom layer read, it would fail.
	f.setFault(func(w http.ResponseWriter, _ *http.Request, d digest.Digest, _ http.Handler) bool {
		if d != layerDigest(t, bottom) {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	got, _, err := readCodename(context.Background(), New(), f.Host+"/lab/debian:layers", amd64, ReadLimits{})
	if err != nil || got != "bookworm" {
		t.Fatalf("codename %q, %v; want bookworm", got, err)
	}
	want := []digest.Digest{layerDigest(t, top), layerDigest(t, middle)}
	if got := f.requested(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("blobs fetched %v, want %v (top, then middle)", got, want)
	}
}

// zstd and uncompressed layers are read too, whatever their media type
// says.
func TestReadImageFileCompression(t *testing.T) {
	f := newBaseFixture(t)
	tr := testregistry.Tar(t, debianRoot("trixie")...)
	for name, l := range map[string]v1.Layer{
		"zstd":      static.NewLayer(baseZstd(t, tr), "application/vnd.oci.image.layer.v1.tar+zstd"),
		"plain":     static.NewLayer(tr, types.OCIUncompressedLayer),
		"mislabeld": static.NewLayer(testregistry.Gzip(t, tr), types.OCIUncompressedLayer),
	} {
		f.Push(t, "lab/"+name+":1", testregistry.NewImage(t, "linux/amd64", nil, l))
		got, _, err := readCodename(context.Background(), New(), f.Host+"/lab/"+name+":1", amd64, ReadLimits{})
		if err != nil || got != "trixie" {
			t.Errorf("%s: codename %q, %v; want trixie", name, got, err)
		}
	}
}

// An index is read for the platform asked for, matched as containerd
// matches (arm/v7 takes arm/v6), by tag or by digest.
func TestReadImageFileIndex(t *testing.T) {
	f := newBaseFixture(t)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range []struct{ platform, codename string }{{"linux/amd64", "bookworm"}, {"linux/arm64", "bullseye"}, {"linux/arm/v6", "buster"}} {
		plat, _ := v1.ParsePlatform(p.platform)
		img := testregistry.NewImage(t, p.platform, nil, testregistry.GzipLayer(t, debianRoot(p.codename)...), testregistry.GzipLayer(t, baseEntry{Name: "app/" + p.platform, Body: "x"}))
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	f.Push(t, "lab/debian:mixed", idx)
	d, _ := idx.Digest()
	for _, ref := range []string{f.Host + "/lab/debian:mixed", f.Host + "/lab/debian@" + d.String()} {
		for p, want := range map[string]string{"linux/amd64": "bookworm", "linux/arm64": "bullseye", "linux/arm/v7": "buster", "linux/arm/v6": "buster"} {
			got, _, err := readCodename(context.Background(), New(), ref, mustPlatform(t, p), ReadLimits{})
			if err != nil || got != want {
				t.Errorf("%s for %s: codename %q, %v; want %s", ref, p, got, err, want)
			}
		}
	}
	_, _, err := readCodename(context.Background(), New(), f.Host+"/lab/debian:mixed", mustPlatform(t, "linux/s390x"), ReadLimits{})
	if !errors.Is(err, resolver.ErrNotFound) || !strings.Contains(err.Error(), "has no image for platform linux/s390x") {
		t.Errorf("s390x: %v", err)
	}
}

func mustPlatform(t *testing.T, s string) ocispecs.Platform {
	t.Helper()
	p, err := v1.ParsePlatform(s)
	if err != nil {
		t.Fatal(err)
	}
	return ocispecs.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// A registry that stalls, or drips, fails the read within its timeout, with
// an error naming the image; one that stalls in the middle of a layer
// fails it within the request timeout.
func TestReadImageFileStalls(t *testing.T) {
	f := newBaseFixture(t)
	f.Push(t, "lab/debian:stall", testregistry.NewImage(t, "linux/amd64", nil, testregistry.GzipLayer(t, debianRoot("bookworm")...)))
	ref := f.Host + "/lab/debian:stall"
	hold := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
	}
	for _, tc := range []struct {
		name    string
		fault   blobFault
		opts    []Option
		lim     ReadLimits
		want    string
		wantErr error
	}{
		{
			name: "no answer",
			fault: func(_ http.ResponseWriter, r *http.Request, _ digest.Digest, _ http.Handler) bool {
				hold(r)
				return true
			},
			lim:  ReadLimits{Timeout: 500 * time.Millisecond},
			want: "cannot read /etc/os-release or /usr/lib/os-release of " + ref + " for linux/amd64: registry " + f.Host + " did not send the image within 500ms; it stalls, or is too slow",
		},
		{
			name: "half a layer",
			fault: func(w http.ResponseWriter, r *http.Request, _ digest.Digest, next http.Handler) bool {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				w.Header().Set("Content-Length", rec.Header().Get("Content-Length"))
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
				w.(http.Flusher).Flush()
				hold(r)
				return true
			},
			opts: []Option{WithRequestTimeout(300 * time.Millisecond)},
			want: "registry " + f.Host + " stalled: no data for 300ms after ",
		},
		{
			name: "drip",
			fault: func(w http.ResponseWriter, r *http.Request, _ digest.Digest, next http.Handler) bool {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				w.Header().Set("Content-Length", rec.Header().Get("Content-Length"))
				w.WriteHeader(rec.Code)
				for _, b := range rec.Body.Bytes() {
					w.Write([]byte{b})
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return true
					case <-f.done:
						return true
					case <-time.After(50 * time.Millisecond):
					}
				}
				return true
			},
			// A byte every 50ms never stalls for the request timeout,
			// even on a busy machine; the whole read's deadline ends it.
			opts: []Option{WithRequestTimeout(2 * time.Minute)},
			lim:  ReadLimits{Timeout: time.Second},
			want: "did not send the image within 1s",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.setFault(tc.fault)
			// Each fault cannot finish within the deadline it meets, so
			// the deadline ends it however busy the machine: the error
			// says which, and no verdict depends on the time taken.
			_, _, err := readCodename(context.Background(), New(tc.opts...), ref, amd64, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ref) {
				t.Fatalf("error %v, want one naming %s and saying %q", err, ref, tc.want)
			}
			if !errors.Is(err, resolver.ErrUnreachable) {
				t.Errorf("error %v is not ErrUnreachable", err)
			}
		})
	}
}

// bomb is a gzip layer holding a file of n zeros, written as a stream.
func bomb(t *testing.T, n int64) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Typeflag: tar.TypeReg, Size: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return static.NewLayer(buf.Bytes(), types.OCILayer)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Layers are bounded decompressed, one by one and together, and a layer
// the manifest says is too large is not fetched.
func TestReadImageFileBounds(t *testing.T) {
	f := newBaseFixture(t)
	base := testregistry.GzipLayer(t, debianRoot("bookworm")...)
	big := bomb(t, 16<<20) // 16 MiB in about 16 KiB
	if n, _ := big.Size(); n > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed", n)
	}
	f.Push(t, "lab/bomb:1", testregistry.NewImage(t, "linux/amd64", nil, base, big))
	f.Push(t, "lab/two:1", testregistry.NewImage(t, "linux/amd64", nil, base, bomb(t, 3<<20), bomb(t, 3<<20+1)))
	f.Push(t, "lab/plain:1", testregistry.NewImage(t, "linux/amd64", nil, base, static.NewLayer(testregistry.Tar(t, baseEntry{Name: "x", Body: strings.Repeat("x", 2<<20)}), types.OCIUncompressedLayer)))

	for _, tc := range []struct {
		name, ref string
		lim       ReadLimits
		want      string
		fetched   int
	}{
		{"bomb", "lab/bomb:1", ReadLimits{MaxLayerBytes: 4 << 20}, "it holds more than 4 MiB decompressed, more than sdkfront reads of a layer", 1},
		{"together", "lab/two:1", ReadLimits{MaxLayerBytes: 4 << 20, MaxBytes: 5 << 20}, "the layers read hold more than 5 MiB decompressed, more than sdkfront reads of an image", 2},
		{"too large to fetch", "lab/plain:1", ReadLimits{MaxLayerBytes: 1 << 20}, "more than sdkfront reads of a layer (1 MiB)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.requested())
			_, _, err := readCodename(context.Background(), New(), f.Host+"/"+tc.ref, amd64, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), f.Host+"/"+tc.ref) {
				t.Fatalf("error %v, want one naming the image and saying %q", err, tc.want)
			}
			if !errors.Is(err, resolver.ErrInvalidImage) {
				t.Errorf("error %v is not ErrInvalidImage", err)
			}
			if n := len(f.requested()) - before; n != tc.fetched {
				t.Errorf("%d layers fetched, want %d", n, tc.fetched)
			}
		})
	}
	// Within the bounds, the same images read.
	if got, _, err := readCodename(context.Background(), New(), f.Host+"/lab/two:1", amd64, ReadLimits{}); err != nil || got != "bookworm" {
		t.Errorf("lab/two:1 with the default bounds: %q, %v", got, err)
	}
}

// A layer is checked against its digest and size, also past the end of
// its tar; a file larger than 64 KiB is refused.
func TestReadImageFileVerifies(t *testing.T) {
	f := newBaseFixture(t)
	// Uncompressed, so that a flipped byte is not caught by gzip's CRC.
	layer := static.NewLayer(testregistry.Tar(t, debianRoot("bookworm")...), types.OCIUncompressedLayer)
	f.Push(t, "lab/debian:1", testregistry.NewImage(t, "linux/amd64", nil, layer))
	big := testregistry.GzipLayer(t, baseEntry{Name: "etc/os-release", Body: strings.Repeat("#", 64<<10+1)})
	f.Push(t, "lab/big:1", testregistry.NewImage(t, "linux/amd64", nil, big))
	ref := f.Host + "/lab/debian:1"
	serve := func(edit func(body []byte) []byte, header bool) blobFault {
		return func(w http.ResponseWriter, r *http.Request, _ digest.Digest, next http.Handler) bool {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := edit(bytes.Clone(rec.Body.Bytes()))
			if header {
				w.Header().Set("Content-Length", itoa(int64(len(body))))
			} else {
				w.WriteHeader(rec.Code)
				w.Write(body[:len(body)/2])
				w.(http.Flusher).Flush() // chunked: no Content-Length
				w.Write(body[len(body)/2:])
				return true
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return true
		}
	}
	for _, tc := range []struct {
		name  string
		fault blobFault
		want  string
	}{
		// /bin/sh's content: the tar stays readable.
		{"a flipped byte", serve(func(b []byte) []byte { b[bytes.Index(b, []byte("#!"))] ^= 1; return b }, true), "sent content that hashes to sha256:"},
		{"trailing bytes", serve(func(b []byte) []byte { return append(b, 0) }, false), "sent more than the " + itoa(layerSize(t, layer)) + " bytes its manifest gives it"},
		{"short, chunked", serve(func(b []byte) []byte { return b[:len(b)-8] }, false), "sent " + itoa(layerSize(t, layer)-8) + " of its " + itoa(layerSize(t, layer)) + " bytes"},
		{"short Content-Length", serve(func(b []byte) []byte { return b[:len(b)-8] }, true), "sends " + itoa(layerSize(t, layer)-8) + " bytes for it, and its manifest says " + itoa(layerSize(t, layer))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.setFault(tc.fault)
			_, _, err := readCodename(context.Background(), New(), ref, amd64, ReadLimits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "layer "+string(layerDigest(t, layer))+" of "+ref) {
				t.Fatalf("error %v, want one naming the layer and the image and saying %q", err, tc.want)
			}
			if !errors.Is(err, resolver.ErrInvalidImage) {
				t.Errorf("error %v is not ErrInvalidImage", err)
			}
		})
	}
	// A corrupt gzip layer is reported as corrupt, not as an invalid tar.
	gz := testregistry.GzipLayer(t, debianRoot("trixie")...)
	f.Push(t, "lab/gz:1", testregistry.NewImage(t, "linux/amd64", nil, gz))
	f.setFault(serve(func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, true))
	_, _, err := readCodename(context.Background(), New(), f.Host+"/lab/gz:1", amd64, ReadLimits{})
	if err == nil || !strings.Contains(err.Error(), "cannot read layer "+string(layerDigest(t, gz))+" of "+f.Host+"/lab/gz:1: registry "+f.Host+" sent content that hashes to sha256:") {
		t.Errorf("a corrupt gzip layer: %v", err)
	}

	f.setFault(nil)
	if _, _, err := readCodename(context.Background(), New(), f.Host+"/lab/big:1", amd64, ReadLimits{}); err == nil || !strings.Contains(err.Error(), "/etc/os-release is larger than 64 KiB") {
		t.Errorf("a 64 KiB os-release: %v", err)
	}
}

func layerSize(t *testing.T, l v1.Layer) int64 {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Base images are held to the client's TLS rule: a registry that is not on
// loopback is read over plain HTTP only when configured as insecure, also
// when a redirect sends the layer there.
func TestReadImageFileTLSRule(t *testing.T) {
	f := newBaseFixture(t)
	f.Push(t, "lab/debian:1", testregistry.NewImage(t, "linux/amd64", nil, testregistry.GzipLayer(t, debianRoot("bookworm")...)))
	// base-registry.test is a public address that the test network
	// routes to the fixture.
	dial := newFakeNet().host("base-registry.test", "93.184.216.50").route("93.184.216.50").option()
	_, port, _ := net.SplitHostPort(f.Host)
	named := "base-registry.test:" + port
	_, _, err := readCodename(context.Background(), New(dial), named+"/lab/debian:1", amd64, ReadLimits{})
	if err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Errorf("a named registry over plain HTTP: %v", err)
	}
	got, _, err := readCodename(context.Background(), New(dial, WithInsecureRegistries([]string{named})), named+"/lab/debian:1", amd64, ReadLimits{})
	if err != nil || got != "bookworm" {
		t.Errorf("configured as insecure: %q, %v", got, err)
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request, _ digest.Digest, _ http.Handler) bool {
		http.Redirect(w, r, "http://"+named+r.URL.Path, http.StatusTemporaryRedirect)
		return true
	})
	_, _, err = readCodename(context.Background(), New(dial), f.Host+"/lab/debian:1", amd64, ReadLimits{})
	if err == nil || !strings.Contains(err.Error(), "refusing plain HTTP to "+named) {
		t.Errorf("a redirect to plain HTTP: %v", err)
	}
}
