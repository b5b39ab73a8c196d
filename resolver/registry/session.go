package registry

import (
	"context"
	"net/http"
	"net/url"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// session is access to one repository (or a registry's catalog), kept
// for the Client's life (a build). It asks anonymously first and
// authenticates only when the registry answers 401, so a registry that
// needs no credentials costs no ping: resolving a tag is one request.
type session struct {
	c        *Client
	reg      name.Registry
	resource authn.Resource // what credentials are looked up for
	scope    string         // what a token is asked for
	repo     name.Repository

	mu       sync.Mutex
	authed   http.RoundTripper // ggcr's authenticating transport, once needed
	withheld string            // the realm credentials were not sent to
}

// session returns the repository's session.
func (c *Client) session(repo name.Repository) *session {
	return c.sessionFor("repository "+repo.Name(), func() *session {
		return &session{c: c, reg: repo.Registry, resource: repo, scope: repo.Scope(ggcrtransport.PullScope), repo: repo}
	})
}

// catalogSession returns the session of a registry's catalog.
func (c *Client) catalogSession(reg name.Registry) *session {
	return c.sessionFor("catalog "+reg.Name(), func() *session {
		return &session{c: c, reg: reg, resource: reg, scope: "registry:catalog:*"}
	})
}

func (c *Client) sessionFor(key string, create func() *session) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[key]
	if !ok {
		s = create()
		c.sessions[key] = s
	}
	return s
}

// client is the HTTP client of the session as it stands.
func (s *session) client() (*http.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, authed := s.authed, s.authed != nil
	if !authed {
		tr = s.c.transport
	}
	return &http.Client{Transport: tr, CheckRedirect: transport.CheckRedirect}, authed
}

// get GETs u for cl, following redirects, authenticating if the registry
// asks to. Any status but 200 is a *statusError. The body is in memory
// (see retryTransport), unless cl's bodyReader took it or cl streams.
func (s *session) get(ctx context.Context, cl *transport.Call, u *url.URL, accept string) (*http.Response, error) {
	ctx = cl.Bind(ctx)
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
		if err := s.authenticate(ctx, cl); err != nil {
			return nil, err
		}
		if resp, _, err = do(); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			s.mu.Lock()
			cl.Withhold(s.withheld)
			s.mu.Unlock()
		}
		return nil, newStatusError(resp)
	}
	return resp, nil
}
