package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"testing"
)

// tarGz packs files (name -> content, all executable) into a tar.gz.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushSDK pushes a seeds-layout SDK image, FROM scratch with one layer that
// holds sdk.tar.gz of the given tree, and returns its layer digest.
func pushSDK(t *testing.T, repoTag string, tree map[string]string) string {
	t.Helper()
	return pushLayer(t, repoTag, tarGz(t, map[string]string{"sdk.tar.gz": string(tarGz(t, tree))}))
}
