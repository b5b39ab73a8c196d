package transport

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrtransport "github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Authenticated is go-containerregistry's authenticating transport over t
// for a challenge the client got (and checked) itself: Basic credentials
// for the registry, or a bearer token from the challenge's realm, for
// scope.
func Authenticated(ctx context.Context, reg name.Registry, auth authn.Authenticator, t http.RoundTripper, scope string, pr *ggcrtransport.Challenge) (http.RoundTripper, error) {
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

// CredentialRealms is where a keychain's credentials may go: the token
// realms Named ("host" or "host:port"; a host trusts every port; the
// registry's WithCredentialRealms) besides the registry's own host and
// Docker Hub's, never in clear text unless PlainHTTP lets that host be
// reached without TLS anyway.
type CredentialRealms struct {
	Named     []string
	PlainHTTP func(host string) bool
}

// Trusts reports whether the keychain's credentials for registry
// ("host[:port]") may go to a bearer token realm, over HTTPS (or plain
// HTTP where the client reaches that host without TLS anyway): one on the
// registry's own host, one r names, or Docker Hub's, whose registry and
// token service are on different hosts. Docker sends them to any realm; a
// registry would then only need to name a realm of its choosing to be
// sent the user's password for another registry.
func (r CredentialRealms) Trusts(registry, realm string) bool {
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return false
	}
	// Never in clear text, unless that host is reached without TLS anyway
	// (loopback, or named by WithInsecureRegistries).
	if !strings.EqualFold(u.Scheme, "https") && !(strings.EqualFold(u.Scheme, "http") && r.PlainHTTP != nil && r.PlainHTTP(u.Host)) {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == Hostname(registry) {
		return true
	}
	for _, h := range r.Named {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, host) {
			return true
		}
	}
	return dockerHubHosts[Hostname(registry)] && host == "auth.docker.io"
}

// dockerHubHosts are Docker Hub's registry hosts, whose token realm is
// auth.docker.io.
var dockerHubHosts = map[string]bool{"index.docker.io": true, "registry-1.docker.io": true, "docker.io": true}
