package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/klauspost/compress/zstd"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// ReadImageFile reads files out of an image's layers: sdkfront lock
// detects a stage's flavor from the os-release of its base image. Each
// layer is a blob streamed (blob.go), decompressed and scanned as a tar,
// from the top layer down, through an overlay of what upper layers hide.

// ReadLimits bound ReadImageFile. A zero field takes its default.
type ReadLimits struct {
	// Timeout bounds the whole read: resolving the image, and fetching and
	// decompressing every layer it takes (default 5 minutes).
	Timeout time.Duration
	// MaxLayerBytes bounds each layer read, as the registry sends it and
	// decompressed (default 2 GiB).
	MaxLayerBytes int64
	// MaxBytes bounds the layers read together, decompressed (default
	// 8 GiB).
	MaxBytes int64
}

// Defaults of ReadLimits, and fixed bounds of ReadImageFile.
const (
	defaultReadTimeout   = 5 * time.Minute
	defaultMaxLayerBytes = 2 << 30
	defaultMaxReadBytes  = 8 << 30
	// maxImageFile bounds the file ReadImageFile returns.
	maxImageFile = 64 << 10
	// maxSymlinkHops bounds the symlinks followed to reach a file.
	maxSymlinkHops = 8
	// maxZstdWindow bounds the memory a zstd layer may ask for (zstd
	// --long=27 needs 128 MiB; the default level 8 MiB).
	maxZstdWindow = 128 << 20
)

func (l ReadLimits) withDefaults() ReadLimits {
	if l.Timeout <= 0 {
		l.Timeout = defaultReadTimeout
	}
	if l.MaxLayerBytes <= 0 {
		l.MaxLayerBytes = defaultMaxLayerBytes
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxReadBytes
	}
	return l
}

// ReadImageFile returns the content of the first of paths ("/etc/os-release")
// that the filesystem of ref's image for platform holds, or nil if it holds
// none. ref is "host/repo:tag" or "host/repo@sha256:…"; an index is
// resolved for platform as ResolvePlatform does. The layers are read from
// the top down, each as a stream, and reading stops with the first layer
// that settles the answer: an upper layer's file, whiteout or opaque
// directory hides what lower layers hold; symlinks, also on parent
// directories, are followed within the image. Every layer read is checked
// against its digest and size.
//
// lim bounds the time and the bytes it takes; a registry that stalls,
// drips, or sends a layer that decompresses without end (a gzip bomb)
// fails the read within lim.Timeout, with an error that names ref. The file
// found may be at most 64 KiB.
//
// Known gaps: a symlink's target is looked for only in its own layer and
// those below it, unless it is one of paths; a hard link is taken for a
// symlink to its target.
func (c *Client) ReadImageFile(ctx context.Context, ref string, platform ocispecs.Platform, paths []string, lim ReadLimits) ([]byte, error) {
	lim = lim.withDefaults()
	r, err := c.parseReference(ref)
	if err != nil {
		return nil, err
	}
	host := r.Context().RegistryStr()
	cl := transport.NewCall(host)
	callCtx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	dt, err := c.readImageFile(callCtx, ctx, cl, r, ref, platform, paths, lim)
	if err != nil && callCtx.Err() != nil && ctx.Err() == nil {
		return nil, &resolver.RegistryError{
			Op: opBlob, Registry: host, Subject: ref, Kind: resolver.ErrUnreachable, Anonymous: c.o.keychain == nil,
			Msg: fmt.Sprintf("cannot read %s of %s for %s: registry %s did not send the image within %s",
				strings.Join(paths, " or "), ref, platforms.FormatAll(platforms.Normalize(platform)), host, lim.Timeout),
			Hint: "it stalls, or is too slow; try again later",
		}
	}
	return dt, err
}

func (c *Client) readImageFile(callCtx, ctx context.Context, cl *transport.Call, r name.Reference, ref string, platform ocispecs.Platform, paths []string, lim ReadLimits) ([]byte, error) {
	mctx, mcancel := context.WithTimeout(callCtx, c.o.timeout)
	_, im, s, err := c.platformManifest(mctx, ctx, cl, r, ref, platform)
	mcancel()
	if err != nil {
		return nil, err
	}
	ov := newOverlay(paths)
	if len(ov.paths) == 0 {
		return nil, nil
	}
	layers := descriptors(im.Layers)
	left := lim.MaxBytes
	for i := len(layers) - 1; i >= 0; i-- {
		n, err := c.readLayer(callCtx, ctx, cl, s, ref, layers[i], ov, lim, left)
		if err != nil {
			return nil, err
		}
		left -= n
		if dt, done := ov.answer(false); done {
			return dt, nil
		}
	}
	dt, _ := ov.answer(true)
	return dt, nil
}

// readLayer reads one layer into ov, decompressing at most what lim and
// left (of the overall bound) allow, and returns the bytes decompressed.
// It reads the layer to its end, so that its digest and size are checked.
func (c *Client) readLayer(callCtx, ctx context.Context, cl *transport.Call, s *session, ref string, d ocispecs.Descriptor, ov *overlay, lim ReadLimits, left int64) (int64, error) {
	var blob io.ReadCloser
	fail := func(err error) error {
		kind := resolver.ErrInvalidImage
		var (
			se *transport.StallError
			be *blobError
		)
		switch {
		case callCtx.Err() != nil:
			return err // ReadImageFile explains the timeout
		case errors.As(err, &se):
			kind, err = resolver.ErrUnreachable, se
		case errors.As(err, &be):
			err = be // not "reading its tar: …"
		case blob != nil:
			// A layer that does not decompress may be one the registry
			// corrupted: its digest, at its end, tells.
			if _, derr := io.Copy(io.Discard, blob); errors.As(derr, &be) {
				err = be
			}
		}
		return c.blobError(s, d, kind, fmt.Sprintf("cannot read layer %s of %s", d.Digest, ref), err, "")
	}
	if d.Size > lim.MaxLayerBytes {
		return 0, fail(&blobError{fmt.Sprintf("it is %d bytes, more than sdkfront reads of a layer (%s)", d.Size, transport.Size(lim.MaxLayerBytes))})
	}
	blob, err := c.openBlob(callCtx, ctx, cl, s, ref, d)
	if err != nil {
		return 0, err
	}
	defer blob.Close()
	un := &capped{limit: min(lim.MaxLayerBytes, left)}
	un.err = &blobError{fmt.Sprintf("it holds more than %s decompressed, more than sdkfront reads of a layer", transport.Size(lim.MaxLayerBytes))}
	if un.limit < lim.MaxLayerBytes {
		un.err = &blobError{fmt.Sprintf("the layers read hold more than %s decompressed, more than sdkfront reads of an image", transport.Size(lim.MaxBytes))}
	}
	dec, closeDec, err := decompress(blob)
	if err != nil {
		return 0, fail(err)
	}
	defer closeDec()
	un.r = dec
	if err := ov.scan(un); err != nil {
		return un.n, fail(err)
	}
	// What follows the tar's end still counts: read the blob to its end.
	if _, err := io.Copy(io.Discard, un); err != nil {
		return un.n, fail(err)
	}
	if _, err := io.Copy(io.Discard, blob); err != nil {
		return un.n, fail(err)
	}
	return un.n, nil
}

// decompress sniffs a layer's compression, as containerd and
// go-containerregistry do: gzip, zstd, or none (a plain tar).
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// capped reads at most limit bytes of r; one more fails with err.
type capped struct {
	r        io.Reader
	n, limit int64
	err      *blobError
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n > c.limit {
		return 0, c.err
	}
	if rem := c.limit + 1 - c.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n - int(c.n-c.limit), c.err
	}
	return n, err
}

// overlay is what the layers read so far, from the top down, say of the
// paths looked for: the first layer to hold a path, a whiteout of it or an
// opaque directory above it decides it for the layers below.
type overlay struct {
	paths  []string             // the candidates, in order, from the root
	wanted []string             // the paths that matter: the candidates and symlink targets
	state  map[string]fileState // the paths decided
	hidden []string             // directories an upper layer made opaque
}

type fileKind int

const (
	regularFile fileKind = iota + 1
	symlinkFile
	noFile // a whiteout, a directory, a device…
)

type fileState struct {
	kind fileKind
	data []byte // regularFile
	link string // symlinkFile: the target, from the root
}

func newOverlay(paths []string) *overlay {
	ov := &overlay{state: map[string]fileState{}}
	for _, p := range paths {
		if p = rootPath(p); p != "" && !slices.Contains(ov.paths, p) {
			ov.paths = append(ov.paths, p)
		}
	}
	ov.wanted = slices.Clone(ov.paths)
	return ov
}

// rootPath is p ("/etc/os-release", "./etc/os-release") from the root,
// without a leading slash: "etc/os-release".
func rootPath(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// open reports whether a layer may still decide p: p matters, no upper
// layer did, and none made a directory above it opaque.
func (ov *overlay) open(p string) bool {
	if _, ok := ov.state[p]; ok || !slices.Contains(ov.wanted, p) {
		return false
	}
	return !slices.ContainsFunc(ov.hidden, func(d string) bool { return d == "" || strings.HasPrefix(p, d+"/") })
}

// scan reads one layer, a tar stream.
func (ov *overlay) scan(r io.Reader) error {
	var opaque []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			ov.hidden = append(ov.hidden, opaque...)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading its tar: %w", err)
		}
		p := rootPath(h.Name)
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			opaque = append(opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			ov.decide(path.Join(dir, strings.TrimPrefix(base, ".wh.")), fileState{kind: noFile})
			continue
		}
		var st fileState
		switch h.Typeflag {
		case tar.TypeReg:
			st.kind = regularFile
		case tar.TypeSymlink, tar.TypeLink:
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink && !strings.HasPrefix(target, "/") {
				target = path.Join(dir, target)
			}
			st = fileState{kind: symlinkFile, link: rootPath(target)}
		case tar.TypeDir:
			// A directory decides only a path that is one.
			if ov.open(p) {
				ov.state[p] = fileState{kind: noFile}
			}
			continue
		default:
			st.kind = noFile
		}
		if st.kind == regularFile && ov.open(p) {
			dt, err := transport.ReadAll(tr, maxImageFile)
			if errors.Is(err, transport.ErrTooLarge) {
				return &blobError{fmt.Sprintf("/%s is larger than %d KiB", p, maxImageFile>>10)}
			}
			if err != nil {
				return fmt.Errorf("reading /%s: %w", p, err)
			}
			st.data = dt
		}
		ov.decide(p, st)
	}
}

// decide records what a layer holds at p, for p and the wanted paths
// under it: a symlink leads them to its target, anything else but a
// directory hides them.
func (ov *overlay) decide(p string, st fileState) {
	if ov.open(p) {
		ov.state[p] = st
	}
	for _, w := range ov.wanted {
		rest, ok := strings.CutPrefix(w, p+"/")
		if !ok || !ov.open(w) {
			continue
		}
		if st.kind == symlinkFile {
			ov.state[w] = fileState{kind: symlinkFile, link: rootPath(path.Join(st.link, rest))}
		} else {
			ov.state[w] = fileState{kind: noFile}
		}
	}
}

// answer is the content of the first candidate the image holds, once the
// layers read decide it: done is false while a lower layer may still
// change it. With all layers read (final), what no layer holds is not
// there. Symlink targets not yet decided become wanted.
func (ov *overlay) answer(final bool) (dt []byte, done bool) {
	for _, p := range ov.paths {
		dt, found, decided := ov.lookup(p)
		switch {
		case found:
			return dt, true
		case !decided && !final:
			return nil, false
		}
	}
	return nil, true
}

func (ov *overlay) lookup(p string) (dt []byte, found, decided bool) {
	for range maxSymlinkHops + 1 {
		st, ok := ov.state[p]
		switch {
		case !ok:
			if !slices.Contains(ov.wanted, p) {
				ov.wanted = append(ov.wanted, p)
			}
			return nil, false, false
		case st.kind == regularFile:
			return st.data, true, true
		case st.kind == symlinkFile:
			p = st.link
		default:
			return nil, false, true
		}
	}
	return nil, false, true // a symlink loop
}
