package e2e

import (
	"maps"
	"slices"
	"testing"
)

// tarGz packs files (name -> content, all executable) into a tar.gz, in
// name order.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var es []entry
	for _, name := range slices.Sorted(maps.Keys(files)) {
		e := file(name, files[name])
		e.hdr.Mode = 0o755
		es = append(es, e)
	}
	return rawTarGz(t, es)
}

// pushSDK pushes a seeds-layout SDK image, FROM scratch with one layer that
// holds sdk.tar.gz of the given tree, and returns its layer digest.
func pushSDK(t *testing.T, repoTag string, tree map[string]string) string {
	t.Helper()
	return pushLayer(t, repoTag, tarGz(t, map[string]string{"sdk.tar.gz": string(tarGz(t, tree))}))
}
