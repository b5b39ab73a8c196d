package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The network guard: every connection the client opens is to an address
// the registry it works for may send it to. A call (ListTags, ...) puts
// its registry in the context of its requests (withOrigin), which picks
// that registry's transport; its dialer resolves each host itself, checks
// every address it is about to connect to, and connects to that very
// address, so that a host name cannot resolve to one address when checked
// and to another when dialed (DNS rebinding). Whatever sends the request
// (the client's own requests, go-containerregistry's ping and token
// requests, any redirect they follow), the connection is checked.
//
// The rule: a public address may always be reached. A loopback, private or
// link-local address only when the registry itself has an address of that
// kind: a registry on loopback may redirect to loopback, one on a private
// network to that network; a public registry may send the client to none
// of them (a cloud metadata service, buildkitd's own ports, the LAN),
// whatever the redirect, bearer realm or Link names, by address or by a
// name such as localhost. Other addresses (multicast, reserved) are never
// reached. A registry named by a host name gets the kinds of the addresses
// that name first resolves to, but for link-local, which only a registry
// named by a link-local address gets.

// addrClass is the kind of an IP address, as far as the guard cares.
type addrClass uint8

const (
	classPublic addrClass = iota
	classLoopback
	classPrivate
	classLinkLocal
	classOther
)

func (c addrClass) String() string {
	return [...]string{"public", "loopback", "private", "link-local", "reserved"}[c]
}

// Special-purpose IPv4 blocks that netip does not single out.
var (
	sharedPrefix    = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	benchmarkPrefix = netip.MustParsePrefix("198.18.0.0/15") // network benchmarks
	thisNetPrefix   = netip.MustParsePrefix("0.0.0.0/8")     // "this network"
	ietfPrefix      = netip.MustParsePrefix("192.0.0.0/24")  // IETF protocol assignments
	nat64Prefix     = netip.MustParsePrefix("64:ff9b::/96")  // well-known NAT64
	siteLocalPrefix = netip.MustParsePrefix("fec0::/10")     // deprecated site-local
	reservedPrefix  = netip.MustParsePrefix("240.0.0.0/4")   // reserved, and broadcast
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")     // 6to4: an IPv4 address inside
	teredoPrefix    = netip.MustParsePrefix("2001::/32")     // Teredo: an obfuscated IPv4 inside
	documentPrefix6 = netip.MustParsePrefix("2001:db8::/32") // documentation
	discardPrefix6  = netip.MustParsePrefix("100::/64")      // discard-only
	orchidPrefix6   = netip.MustParsePrefix("2001:10::/28")  // ORCHID
)

// classOf classifies an address. Public is an allow-list: global unicast
// outside every special-purpose block above.
func classOf(a netip.Addr) addrClass {
	a = a.Unmap()
	if a.Is6() && nat64Prefix.Contains(a) {
		b := a.As16()
		return classOf(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	switch {
	case a.IsLoopback(), a.IsUnspecified(), thisNetPrefix.Contains(a):
		// 0.0.0.0 and :: reach the local host.
		return classLoopback
	case a.IsPrivate(), sharedPrefix.Contains(a), benchmarkPrefix.Contains(a), siteLocalPrefix.Contains(a):
		return classPrivate
	case a.IsLinkLocalUnicast():
		return classLinkLocal
	case !a.IsGlobalUnicast(), reservedPrefix.Contains(a), ietfPrefix.Contains(a),
		sixToFourPrefix.Contains(a), teredoPrefix.Contains(a), documentPrefix6.Contains(a),
		discardPrefix6.Contains(a), orchidPrefix6.Contains(a):
		return classOther
	}
	return classPublic
}

// classSet is a set of address classes.
type classSet uint8

func (s classSet) has(c addrClass) bool { return s&(1<<c) != 0 }
func (s *classSet) add(c addrClass)     { *s |= 1 << c }

// addressError is a connection the guard refused.
type addressError struct {
	host     string // as named: "localhost"
	addr     netip.Addr
	class    addrClass
	registry string
}

func (e *addressError) Error() string {
	named := e.addr.String()
	if e.host != named {
		named = fmt.Sprintf("%s (%s)", e.host, e.addr)
	}
	return fmt.Sprintf("refusing to connect to %s for registry %s: it is a %s address, and the registry is not on one", named, e.registry, e.class)
}

// unresolvedError is a target, behind a proxy, that only the proxy could
// resolve, for a registry that this host resolves.
type unresolvedError struct{ host, registry string }

func (e *unresolvedError) Error() string {
	return fmt.Sprintf("refusing to send a request for registry %s to %s through the proxy: this host cannot resolve %s, though it resolves the registry, so only the proxy's network knows it", e.registry, e.host, e.host)
}

type originKey struct{}

// withOrigin marks ctx's requests as made for registry ("host[:port]").
func withOrigin(ctx context.Context, registry string) context.Context {
	return context.WithValue(ctx, originKey{}, registry)
}

func originFrom(ctx context.Context) string {
	s, _ := ctx.Value(originKey{}).(string)
	return s
}

// netGuard resolves and checks addresses. lookup and dial are the
// network: net.DefaultResolver and a net.Dialer, or a test's.
type netGuard struct {
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)

	proxyOf func(*http.Request) (*url.URL, error)

	mu         sync.Mutex
	origins    map[string]classSet        // by registry host name, lower case
	transports map[string]*http.Transport // by registry, lower case
}

func newNetGuard() *netGuard {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &netGuard{
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		dial:       d.DialContext,
		proxyOf:    http.ProxyFromEnvironment,
		origins:    map[string]classSet{},
		transports: map[string]*http.Transport{},
	}
}

// resolve returns host's addresses: itself if it is one.
func (g *netGuard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.WithZone("")}, nil
	}
	addrs, err := g.lookup(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, err
}

// originClasses are the kinds of address registry ("host[:port]") is on,
// as first resolved: what it may send the client to besides public
// addresses. A registry that does not resolve is on none, and so is one
// with any public address: its owner chooses its DNS records, so a
// public registry that also names a private or loopback address would
// otherwise open all of them to its redirects and realms.
func (g *netGuard) originClasses(ctx context.Context, registry string) classSet {
	host := hostname(registry)
	g.mu.Lock()
	s, ok := g.origins[host]
	g.mu.Unlock()
	if ok {
		return s
	}
	_, notLiteral := netip.ParseAddr(host)
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return 0 // not cached: the next call resolves again
	}
	for _, a := range addrs {
		c := classOf(a)
		if c == classPublic {
			s = 0
			break
		}
		if c == classLinkLocal && notLiteral != nil {
			continue // a name that resolves to link-local gets no link-local
		}
		s.add(c)
	}
	g.mu.Lock()
	g.origins[host] = s
	g.mu.Unlock()
	return s
}

// check returns an *addressError unless registry may reach addr, which
// host resolved to. A request outside any call ("") reaches public
// addresses only.
func (g *netGuard) check(ctx context.Context, registry, host string, addr netip.Addr) error {
	c := classOf(addr)
	if c == classPublic {
		return nil
	}
	if registry != "" && c != classOther && g.originClasses(ctx, registry).has(c) {
		return nil
	}
	if registry == "" {
		registry = "(none)"
	}
	return &addressError{host: host, addr: addr.Unmap(), class: c, registry: registry}
}

// RoundTrip sends req through the transport of its registry (withOrigin).
// Each registry has its own transport, and so its own idle connections:
// a connection opened for a loopback registry is never reused for a
// public one that redirects there.
func (g *netGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	registry := strings.ToLower(originFrom(req.Context()))
	g.mu.Lock()
	t, ok := g.transports[registry]
	if !ok {
		t = g.newTransport(registry)
		g.transports[registry] = t
	}
	g.mu.Unlock()
	return t.RoundTrip(req)
}

// newTransport is remote.DefaultTransport's settings, dialing through the
// guard for registry.
func (g *netGuard) newTransport(registry string) *http.Transport {
	var proxies sync.Map // "host:port" of the proxies in use
	return &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			return g.proxy(req, registry, &proxies)
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, ok := proxies.Load(addr); ok {
				return g.dial(ctx, network, addr)
			}
			return g.dialContext(ctx, registry, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   50,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// dialContext connects to addr ("host:port") for registry: to the first
// of host's addresses that the guard allows and that answers.
func (g *netGuard) dialContext(ctx context.Context, registry, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, a := range addrs {
		if err := g.check(ctx, registry, host, a); err != nil {
			first = cmpErr(first, err)
			continue
		}
		conn, err := g.dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		first = cmpErr(first, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// cmpErr keeps the first error, but a refused address over a failed dial:
// that is what the user needs to know.
func cmpErr(first, err error) error {
	var ae *addressError
	if first == nil || (errors.As(err, &ae) && !errors.As(first, &ae)) {
		return err
	}
	return first
}

// proxy is the HTTP proxy of the environment, as remote.DefaultTransport
// uses it. The proxy resolves and connects to the registry, so the dialer
// cannot check that address: it is checked here, as this host resolves
// it (a name it cannot resolve is left to the proxy only where this host
// cannot resolve the registry either), and the proxy's own address is
// dialed unchecked.
func (g *netGuard) proxy(req *http.Request, registry string, proxies *sync.Map) (*url.URL, error) {
	u, err := g.proxyOf(req)
	if u == nil || err != nil {
		return u, err
	}
	host := req.URL.Hostname()
	addrs, err := g.resolve(req.Context(), host)
	if err != nil {
		// Behind a proxy, often only the proxy resolves names: what it
		// reaches is then the proxy's policy. But where this host resolves
		// the registry itself, a target it cannot resolve is a name only
		// the proxy's network knows, and the registry may not send the
		// client there.
		if reg := hostname(registry); reg != "" && reg != strings.ToLower(host) {
			if _, rerr := g.resolve(req.Context(), reg); rerr == nil {
				return nil, &unresolvedError{host: host, registry: registry}
			}
		}
		addrs = nil
	}
	for _, a := range addrs {
		if err := g.check(req.Context(), registry, host, a); err != nil {
			return nil, err
		}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080"}[u.Scheme]
	}
	proxies.Store(net.JoinHostPort(u.Hostname(), port), true)
	return u, nil
}

// hostname is the host of "host[:port]", lower case, without brackets.
func hostname(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}
