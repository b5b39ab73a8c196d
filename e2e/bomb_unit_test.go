package e2e

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"testing"
)

// TestGzipBombFixture reads gzipBomb's tarball back as a reader does: one
// file, bin/zeros, of the size asked, all zeros, and nothing after it. It
// needs no lab.
func TestGzipBombFixture(t *testing.T) {
	const size = 64 << 20
	b, err := gzipBomb(size)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() > 1<<20 {
		t.Errorf("the fixture is %d bytes for %d of content: no bomb", b.Len(), size)
	}
	zr, err := gzip.NewReader(b)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != "bin/zeros" || h.Size != size {
		t.Fatalf("first entry %+v, %v; want bin/zeros of %d bytes", h, err, size)
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := tr.Read(buf)
		for _, c := range buf[:m] {
			if c != 0 {
				t.Fatalf("a non-zero byte at %d", n)
			}
		}
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != size {
		t.Errorf("read %d bytes, want %d", n, size)
	}
	if h, err := tr.Next(); err != io.EOF {
		t.Errorf("after bin/zeros: %+v, %v; want the end", h, err)
	}
}
