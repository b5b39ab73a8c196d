package resolver

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrForeignURLs: an SDK image's layer carries foreign URLs from a host
// that is not allowed.
var ErrForeignURLs = errors.New("foreign layer URLs")

// ForeignURLError reports a layer whose descriptor names URLs that
// buildkitd would fetch it from, from the daemon's network, before the
// registry. The content stays digest-checked either way.
type ForeignURLError struct {
	Image string
	Layer digest.Digest
	URLs  []string
}

func (e *ForeignURLError) Error() string {
	return fmt.Sprintf("layer %s of %s carries foreign URLs (%s): buildkitd would fetch it from there, from the daemon's network, before the registry; sdkfront refuses foreign layer URLs unless the build arg SDK_ALLOW_FOREIGN_URLS names their hosts",
		e.Layer, e.Image, strings.Join(e.URLs, ", "))
}

func (e *ForeignURLError) Is(target error) bool { return target == ErrForeignURLs }

// CheckForeignURLs refuses a layer with a URL whose host is not in allowed
// ("host" or "host:port"; a host allows every port). A URL that does not
// parse is never allowed.
func CheckForeignURLs(image string, layers []ocispecs.Descriptor, allowed []string) error {
	for _, l := range layers {
		var bad []string
		for _, raw := range l.URLs {
			if !urlAllowed(raw, allowed) {
				bad = append(bad, raw)
			}
		}
		if len(bad) > 0 {
			return &ForeignURLError{Image: image, Layer: l.Digest, URLs: bad}
		}
	}
	return nil
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
