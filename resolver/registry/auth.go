package registry

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

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
