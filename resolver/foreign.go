package resolver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrForeignURLs: a descriptor of an SDK image carries foreign URLs from a
// host that is not allowed.
var ErrForeignURLs = errors.New("foreign URLs")

// ForeignURLError reports a descriptor (an index entry, a config or a
// layer) that names URLs buildkitd would fetch its content from, from the
// daemon's network, before the registry: containerd's fetcher follows the
// urls of any descriptor. The content stays digest-checked either way.
type ForeignURLError struct {
	Image  string
	Kind   string // "manifest", "config", "layer" or "blob"
	Digest digest.Digest
	URLs   []string
}

func (e *ForeignURLError) Error() string {
	urls := make([]string, 0, min(len(e.URLs), maxQuotedURLs)+1)
	for _, u := range e.URLs[:min(len(e.URLs), maxQuotedURLs)] {
		urls = append(urls, printable(u, 200))
	}
	if n := len(e.URLs) - maxQuotedURLs; n > 0 {
		urls = append(urls, fmt.Sprintf("and %d more", n))
	}
	return fmt.Sprintf("%s %s of %s carries foreign URLs (%s): buildkitd would fetch it from there, from the daemon's network, before the registry; sdkfront refuses foreign URLs unless the build arg SDK_ALLOW_FOREIGN_URLS names their hosts",
		e.Kind, e.Digest, e.Image, strings.Join(urls, ", "))
}

func (e *ForeignURLError) Is(target error) bool { return target == ErrForeignURLs }

// maxQuotedURLs is how many of a descriptor's URLs an error quotes.
const maxQuotedURLs = 3

// CheckForeignURLs refuses a descriptor with a URL whose host is not in
// allowed ("host" or "host:port"; a host allows every port). A URL that
// does not parse is never allowed. descs are every descriptor a pull
// fetches content by (Resolution.Descriptors): the entries of the image
// indexes (all of them: a multi-platform build fetches several), the
// config and the layers.
func CheckForeignURLs(image string, descs []ocispecs.Descriptor, allowed []string) error {
	for _, d := range descs {
		var bad []string
		for _, raw := range d.URLs {
			if !urlAllowed(raw, allowed) {
				bad = append(bad, raw)
			}
		}
		if len(bad) > 0 {
			return &ForeignURLError{Image: image, Kind: descriptorKind(d.MediaType), Digest: d.Digest, URLs: bad}
		}
	}
	return nil
}

// descriptorKind names what a descriptor points to, for messages.
func descriptorKind(mediaType string) string {
	switch mediaType {
	case ocispecs.MediaTypeImageIndex, ocispecs.MediaTypeImageManifest,
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json":
		return "manifest"
	case ocispecs.MediaTypeImageConfig, "application/vnd.docker.container.image.v1+json":
		return "config"
	}
	if strings.Contains(mediaType, ".layer.") || strings.Contains(mediaType, ".rootfs.") {
		return "layer"
	}
	return "blob"
}

func urlAllowed(raw string, allowed []string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	for _, a := range allowed {
		if strings.EqualFold(a, u.Host) || strings.EqualFold(a, u.Hostname()) {
			return true
		}
	}
	return false
}

// printable is s for a message: at most n bytes, on one line, with '?'
// for every rune that is not printable.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i] + "…"
	}
	return s
}
