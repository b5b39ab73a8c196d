package resolver

import (
	"errors"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckForeignURLs(t *testing.T) {
	layer := func(urls ...string) []ocispecs.Descriptor {
		return []ocispecs.Descriptor{{Digest: "sha256:aa", URLs: urls}}
	}
	cases := []struct {
		urls    []string
		allowed []string
		ok      bool
	}{
		{nil, nil, true},
		{[]string{"https://cdn.example/l.tgz"}, nil, false},
		{[]string{"https://cdn.example/l.tgz"}, []string{"cdn.example"}, true},
		{[]string{"https://cdn.example:8443/l.tgz"}, []string{"cdn.example"}, true},
		{[]string{"https://cdn.example:8443/l.tgz"}, []string{"cdn.example:443"}, false},
		{[]string{"https://cdn.example/l.tgz", "http://evil.example/x"}, []string{"cdn.example"}, false},
		{[]string{"::not a url"}, []string{"cdn.example"}, false},
		{[]string{"/relative"}, []string{""}, false},
	}
	for _, c := range cases {
		err := CheckForeignURLs("reg/sdks/x@sha256:bb", layer(c.urls...), c.allowed)
		if (err == nil) != c.ok {
			t.Errorf("%v allowed %v: %v", c.urls, c.allowed, err)
		}
		if err != nil && (!errors.Is(err, ErrForeignURLs) || !strings.Contains(err.Error(), "SDK_ALLOW_FOREIGN_URLS")) {
			t.Errorf("error %q", err)
		}
	}
}
