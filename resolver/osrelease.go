package resolver

import (
	"bufio"
	"bytes"
	"strings"
)

// OSReleasePaths are the files a base image's flavor is read from, in
// order (os-release(5)): /etc/os-release, following a symlink, else
// /usr/lib/os-release. The frontend reads them through BuildKit, sdkfront
// lock from the image's layers or a named context's directory.
var OSReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// FlavorFromOSRelease is the flavor of an image whose os-release(5) holds
// dt: its VERSION_CODENAME ("bookworm"), unquoted. An os-release without
// one (Alpine's, busybox's) gives "", as does empty content. The result is
// untrusted: Resolve validates it like any other flavor.
func FlavorFromOSRelease(dt []byte) string {
	s := bufio.NewScanner(bytes.NewReader(dt))
	for s.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "VERSION_CODENAME="); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}
