package registry

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Client talks to OCI registries. It is safe for concurrent use.
type Client struct {
	o options
	// transport is the stack every request goes through, under the
	// authentication of go-containerregistry's transport: retries and the
	// request timeout, then the TLS guard, then the network guard.
	transport http.RoundTripper

	mu       sync.Mutex
	sessions map[string]*session // by repository, or "catalog " and registry
}

// New returns a Client.
func New(opts ...Option) *Client {
	o := defaults()
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{o: o, sessions: map[string]*session{}}
	c.transport = transport.New(transport.Options{
		UserAgent: o.userAgent, RequestTimeout: o.requestTimeout,
		Retries: o.retries, Backoff: o.backoff, MaxBackoff: o.maxBackoff, MaxRetryAfter: o.maxRetryAfter,
		MaxBodyBytes: o.maxBodyBytes, PlainHTTP: c.plainHTTP, PrivateNetworks: o.networks,
		Lookup: o.lookup, Dial: o.dial, Proxy: o.proxy,
	})
	return c
}

// call starts a call on registry ("host[:port]"): its per-call state
// (the registry, for the network guard; stats, for error messages), and
// callCtx, ctx under the call's time limit.
func (c *Client) call(ctx context.Context, registry string) (callCtx context.Context, cl *transport.Call, cancel context.CancelFunc) {
	callCtx, cancel = context.WithTimeout(ctx, c.o.timeout)
	return callCtx, transport.NewCall(registry), cancel
}

// ListTags lists every tag of repository ("host/path"), following Link
// pagination.
func (c *Client) ListTags(ctx context.Context, repository string) ([]string, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	tags, _, err := c.listTags(callCtx, cl, repo, "")
	if err != nil {
		return nil, c.wrap(ctx, cl, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
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
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	tags, all, err := c.listTags(callCtx, cl, repo, prefix)
	if err != nil {
		return nil, false, c.wrap(ctx, cl, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, all, nil
}

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

// authenticate pings the registry and answers its authentication
// challenge, once: with the credentials of the keychain, if any, unless
// the challenge sends them to a token realm the client does not trust
// with them (trustsRealm); then anonymously.
func (s *session) authenticate(ctx context.Context, cl *transport.Call) error {
	ctx = cl.InMemory().Bind(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authed != nil {
		return nil
	}
	auth := authn.Anonymous
	if s.c.o.keychain != nil {
		var err error
		if auth, err = authn.Resolve(ctx, s.c.o.keychain, s.resource); err != nil {
			return err
		}
	}
	pr, err := ggcrtransport.Ping(ctx, s.reg, s.c.transport)
	if err != nil {
		return err
	}
	if realm := pr.Parameters["realm"]; auth != authn.Anonymous && strings.EqualFold(pr.Scheme, "bearer") && !s.c.trustsRealm(s.reg.RegistryStr(), realm) {
		auth, s.withheld = authn.Anonymous, realm
		cl.Withhold(realm)
	}
	tr, err := authTransport(ctx, s.reg, auth, s.c.transport, s.scope, pr)
	if err != nil {
		return err
	}
	s.authed = tr
	return nil
}

// authTransport is go-containerregistry's authenticating transport for a
// challenge the client got (and checked) itself: Basic credentials for the
// registry, or a bearer token from the challenge's realm.
func authTransport(ctx context.Context, reg name.Registry, auth authn.Authenticator, t http.RoundTripper, scope string, pr *ggcrtransport.Challenge) (http.RoundTripper, error) {
	if !strings.EqualFold(pr.Scheme, "bearer") {
		return ggcrtransport.FromToken(reg, auth, t, pr, &ggcrtransport.Token{})
	}
	cfg, err := authn.Authorization(ctx, auth)
	if err != nil {
		return nil, err
	}
	tok := &ggcrtransport.Token{Token: cfg.RegistryToken}
	if tok.Token == "" {
		if tok, err = ggcrtransport.Exchange(ctx, reg, auth, t, []string{scope}, pr); err != nil {
			return nil, err
		}
		tok.Token = cmp.Or(tok.Token, tok.AccessToken)
	}
	return ggcrtransport.FromToken(reg, auth, t, pr, tok)
}

// trustsRealm reports whether the keychain's credentials for registry
// ("host[:port]") may go to a bearer token realm, over HTTPS (or plain
// HTTP where the client reaches that host without TLS anyway): one on the
// registry's own host, one WithCredentialRealms names ("host" or "host:port"; a host
// trusts every port), or Docker Hub's, whose registry and token service
// are on different hosts. Docker sends them to any realm; a registry
// would then only need to name a realm of its choosing to be sent the
// user's password for another registry.
func (c *Client) trustsRealm(registry, realm string) bool {
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return false
	}
	// Never in clear text, unless that host is reached without TLS anyway
	// (loopback, or named by WithInsecureRegistries).
	if !strings.EqualFold(u.Scheme, "https") && !(strings.EqualFold(u.Scheme, "http") && c.plainHTTP(u.Host)) {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == transport.Hostname(registry) {
		return true
	}
	for _, h := range c.o.realms {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, host) {
			return true
		}
	}
	return dockerHubHosts[transport.Hostname(registry)] && host == "auth.docker.io"
}

// dockerHubHosts are Docker Hub's registry hosts, whose token realm is
// auth.docker.io.
var dockerHubHosts = map[string]bool{"index.docker.io": true, "registry-1.docker.io": true, "docker.io": true}

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
