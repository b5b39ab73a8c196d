package registry

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// ListRepositories serves suggestions, not inventories: it reads a few
// pages, and keeps a bounded number of names, each of bounded length.
const (
	catalogPages      = 10
	catalogPageSize   = 1000
	maxCatalogNames   = 10_000
	maxRepositoryName = 255
)

// ListRepositories lists the repositories of a registry ("host[:port]")
// from its catalog, as "host[:port]/path": at most maxCatalogNames of
// them, from at most catalogPages pages. Names longer than 255 bytes, or
// with characters no repository name has, are skipped. Registries that do
// not serve a catalog (most public ones) answer with an error.
func (c *Client) ListRepositories(ctx context.Context, registry string) ([]string, error) {
	var opts []name.Option
	if c.plainHTTP(registry) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, opts...)
	if err != nil {
		return nil, err
	}
	callCtx, cl, cancel := c.call(ctx, reg.RegistryStr())
	defer cancel()
	s := c.catalogSession(reg)
	var out []string
	last := ""
	for range catalogPages {
		q := url.Values{"n": {strconv.Itoa(catalogPageSize)}}
		if last != "" {
			q.Set("last", last)
		}
		u := &url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/v2/_catalog", RawQuery: q.Encode()}
		p, err := c.catalogPage(callCtx, cl, s, u)
		if err != nil {
			return nil, c.wrap(ctx, cl, opCatalog, reg.RegistryStr(), reg.RegistryStr(), nil, err)
		}
		for _, r := range p.names {
			if len(out) == maxCatalogNames {
				return out, nil
			}
			out = append(out, registry+"/"+r)
		}
		if p.listed < catalogPageSize || !validRepositoryName(p.last) {
			break
		}
		last = p.last
	}
	return out, nil
}

// catalogList is one page of a catalog, as read.
type catalogList struct {
	names  []string // the valid ones
	listed int      // names listed, valid or not
	last   string   // the last one
}

// catalogPage GETs one page of the catalog, decoding it as it arrives. It
// stops at maxCatalogNames names, valid or not.
func (c *Client) catalogPage(ctx context.Context, cl *transport.Call, s *session, u *url.URL) (*catalogList, error) {
	var p catalogList
	reset := func() { p = catalogList{names: p.names[:0]} }
	add := func(r string) error {
		p.listed++
		p.last = r
		if p.listed > maxCatalogNames {
			return errEnough
		}
		if validRepositoryName(r) {
			p.names = append(p.names, r)
		}
		return nil
	}
	rd := &transport.BodyReader{Suffix: "/v2/_catalog", Limit: c.o.maxPageBytes, Decode: func(r io.Reader) error {
		reset()
		err := decodeList(r, "repositories", add, reset)
		switch {
		case errors.Is(err, errEnough):
			return nil
		case err != nil:
			return &badResponse{what: "an invalid catalog", err: err}
		}
		return nil
	}}
	resp, err := s.get(ctx, cl.Reading(rd), u, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !rd.Done {
		if err := rd.Decode(resp.Body); err != nil {
			return nil, err
		}
	}
	return &p, nil
}

// errEnough stops a decoder that has read all it needs.
var errEnough = errors.New("enough")

// validRepositoryName reports whether s may be a repository name: up to
// 255 bytes of lower-case letters, digits, '.', '_', '-' and '/', as the
// OCI distribution spec's grammar has them (loosely: the resolver matches
// names against its source, which is stricter).
func validRepositoryName(s string) bool {
	if s == "" || len(s) > maxRepositoryName {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}
