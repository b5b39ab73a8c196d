package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// catalogPages bounds ListRepositories: it serves suggestions, not
// inventories.
const (
	catalogPages    = 10
	catalogPageSize = 1000
)

// ListRepositories lists the repositories of a registry ("host[:port]")
// from its catalog, as "host[:port]/path", at most catalogPages pages of
// them. Registries that do not serve a catalog (most public ones) answer
// with an error.
func (c *Client) ListRepositories(ctx context.Context, registry string) ([]string, error) {
	var opts []name.Option
	if c.plainHTTP(registry) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	auth := authn.Anonymous
	if c.o.keychain != nil {
		if auth, err = authn.Resolve(ctx, c.o.keychain, reg); err != nil {
			return nil, err
		}
	}
	var out []string
	last := ""
	for range catalogPages {
		page, err := remote.CatalogPage(reg, last, catalogPageSize, append(c.ggcrOptions(ctx), remote.WithAuth(auth))...)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			out = append(out, registry+"/"+r)
		}
		if len(page) < catalogPageSize {
			break
		}
		last = page[len(page)-1]
	}
	return out, nil
}
