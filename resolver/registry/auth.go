package registry

import (
	"context"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// authenticate pings the registry and answers its authentication
// challenge, once: with the credentials of the keychain, if any, unless
// the challenge sends them to a token realm the client does not trust
// with them (transport.CredentialRealms); then anonymously.
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
	if realm := pr.Parameters["realm"]; auth != authn.Anonymous && strings.EqualFold(pr.Scheme, "bearer") && !s.c.realms().Trusts(s.reg.RegistryStr(), realm) {
		auth, s.withheld = authn.Anonymous, realm
		cl.Withhold(realm)
	}
	tr, err := transport.Authenticated(ctx, s.reg, auth, s.c.transport, s.scope, pr)
	if err != nil {
		return err
	}
	s.authed = tr
	return nil
}

// realms is where the client lets the keychain's credentials go.
func (c *Client) realms() transport.CredentialRealms {
	return transport.CredentialRealms{Named: c.o.realms, PlainHTTP: c.plainHTTP}
}
