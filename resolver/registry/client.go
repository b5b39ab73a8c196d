package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver"
)

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	o options
	// transport is the stack every request goes through, under ggcr's
	// authentication: retries and the request timeout, then the TLS guard,
	// then o.transport.
	transport http.RoundTripper

	mu       sync.Mutex
	sessions map[string]*session // by repository
}

// New returns a Client.
func New(opts ...Option) *Client {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{o: o, sessions: map[string]*session{}}
	c.transport = &retryTransport{next: tlsGuard{next: o.transport, plainHTTP: c.plainHTTP}, o: &c.o}
	return c
}

// ListTags lists every tag of repository ("host/path"), following Link
// pagination.
func (c *Client) ListTags(ctx context.Context, repository string) ([]string, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	ctx, _ = withStats(ctx)
	callCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	tags, _, err := c.listTags(callCtx, repo, "")
	if err != nil {
		return nil, c.wrap(ctx, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, nil
}

// ListTagsWithPrefix implements resolver.PrefixLister: the tags of
// repository that start with prefix, in as few pages as the registry
// allows (see listTags).
func (c *Client) ListTagsWithPrefix(ctx context.Context, repository, prefix string) ([]string, bool, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, false, err
	}
	ctx, _ = withStats(ctx)
	callCtx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	tags, all, err := c.listTags(callCtx, repo, prefix)
	if err != nil {
		return nil, false, c.wrap(ctx, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, all, nil
}

// session is access to one repository, kept for the Client's life (a
// build). It asks anonymously first and authenticates only when the
// registry answers 401, so a registry that needs no credentials costs no
// ping: resolving a tag is one request.
type session struct {
	c    *Client
	repo name.Repository

	mu     sync.Mutex
	authed http.RoundTripper // ggcr's authenticating transport, once needed
}

// session returns the repository's session.
func (c *Client) session(_ context.Context, repo name.Repository) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[repo.Name()]
	if !ok {
		s = &session{c: c, repo: repo}
		c.sessions[repo.Name()] = s
	}
	return s, nil
}

// client is the HTTP client of the session as it stands.
func (s *session) client() (*http.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, authed := s.authed, s.authed != nil
	if !authed {
		tr = s.c.transport
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}, authed
}

// authenticate pings the registry and answers its authentication
// challenge (ggcr's transport does both, through c.transport), once.
func (s *session) authenticate(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authed != nil {
		return nil
	}
	auth := authn.Anonymous
	if s.c.o.keychain != nil {
		var err error
		if auth, err = authn.Resolve(ctx, s.c.o.keychain, s.repo); err != nil {
			return err
		}
	}
	tr, err := transport.NewWithContext(ctx, s.repo.Registry, auth, s.c.transport, []string{s.repo.Scope(transport.PullScope)})
	if err != nil {
		return err
	}
	s.authed = tr
	return nil
}

// get GETs u, following redirects, authenticating if the registry asks
// to. Any status but 200 is a *statusError. The body is in memory (see
// retryTransport).
func (s *session) get(ctx context.Context, u *url.URL, accept string) (*http.Response, error) {
	do := func() (*http.Response, bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, false, err
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		client, authed := s.client()
		resp, err := client.Do(req)
		return resp, authed, err
	}
	resp, authed, err := do()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && !authed {
		resp.Body.Close()
		if err := s.authenticate(ctx); err != nil {
			return nil, err
		}
		if resp, _, err = do(); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, newStatusError(resp)
	}
	return resp, nil
}

func (c *Client) parseRepository(s string) (name.Repository, error) {
	repo, err := name.NewRepository(s)
	if err == nil && c.plainHTTP(repo.RegistryStr()) {
		repo, err = name.NewRepository(s, name.Insecure)
	}
	if err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, err)
	}
	return repo, nil
}

func (c *Client) parseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err == nil && c.plainHTTP(ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(s, name.Insecure)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

// ggcrOptions are options for go-containerregistry's remote package that
// send its requests through the client's transport (retries, timeouts, TLS
// guard), without retries of its own on top.
func (c *Client) ggcrOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(c.transport),
		remote.WithUserAgent(c.o.userAgent),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
	}
}

// plainHTTP reports whether host ("host[:port]") may be reached without TLS.
func (c *Client) plainHTTP(host string) bool {
	if c.o.insecure[host] {
		return true
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if c.o.insecure[h] || h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

var (
	_ resolver.TagLister      = (*Client)(nil)
	_ resolver.PlatformLister = (*Client)(nil)
)
