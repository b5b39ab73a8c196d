package transport

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
// the registry it works for may send it to. A call (ListTags, ...) names
// its registry in the *Call its requests carry (call.go), which picks
// that registry's transport; its dialer resolves each host itself, checks
// every address it is about to connect to, and connects to that very
// address, so that a host name cannot resolve to one address when checked
// and to another when dialed (DNS rebinding). Whatever sends the request
// (the client's own requests, go-containerregistry's ping and token
// requests, any redirect they follow), the connection is checked.
//
// The rule: a public address may always be reached. A registry on
// loopback may also reach loopback; a registry on a private address its
// own network of it (the /24 of an IPv4 address, the /64 of an IPv6 one),
// and each network WithPrivateNetworks names that holds that address; a
// registry named by a link-local address the /24 (IPv4) or /64 (IPv6) of
// it. Nothing else: a public registry may send the client to no loopback,
// private or link-local address (a cloud metadata service, buildkitd's own
// ports, the LAN), whatever the redirect, bearer realm or Link names, by
// address or by a name such as localhost. Other addresses (multicast,
// reserved) are never reached. An address that embeds an IPv4 address
// (mapped, compatible, SIIT, NAT64) counts as that address.
//
// What a registry is on is fixed once per Client (per build), before its
// first request: from its address if it is named by one, else from one
// resolution of its name, whose addresses its own connections then reuse;
// the guard never resolves the registry's name again. A registry with any
// public address is public (its owner chooses its DNS records); a name
// gets no link-local kind. A registry that does not resolve is public
// until it does; once one of its requests has gone through a proxy
// unresolved, it stays public.
//
// Behind a proxy (HTTP_PROXY, HTTPS_PROXY), the guard decides for each
// request whether it goes through the proxy, and checks its target where
// it decides: the addresses this host resolves it to (the registry's, as
// fixed). A name this host cannot resolve is refused if this host
// resolves the registry, and left to the proxy otherwise. Only the
// connection the transport opens to the proxy for a request it proxies is
// dialed unchecked (the decision travels with the request, as its call's
// route); every direct connection is checked, one to the proxy's own
// address included. The proxy is given the target's name and resolves it
// itself: that it resolves as this host does is trusted, as the user's
// proxy. Naming the checked address instead is not sound: an HTTPS tunnel
// must name the host the certificate is checked against (which then
// binds the connection to that name), and a proxy sends the host of a
// plain-HTTP request line on as its Host (RFC 7230, 5.4).

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

// Special-purpose blocks that netip does not single out.
var (
	thisNetPrefix   = netip.MustParsePrefix("0.0.0.0/8")     // "this network"
	ietfPrefix      = netip.MustParsePrefix("192.0.0.0/24")  // IETF protocol assignments
	reservedPrefix  = netip.MustParsePrefix("240.0.0.0/4")   // reserved, and broadcast
	sixToFourPrefix = netip.MustParsePrefix("2002::/16")     // 6to4: an IPv4 address inside
	teredoPrefix    = netip.MustParsePrefix("2001::/32")     // Teredo: an obfuscated IPv4 inside
	documentPrefix6 = netip.MustParsePrefix("2001:db8::/32") // documentation
	discardPrefix6  = netip.MustParsePrefix("100::/64")      // discard-only
	orchidPrefix6   = netip.MustParsePrefix("2001:10::/28")  // ORCHID
)

// Forms of IPv6 address that embed an IPv4 address (RFC 4291, 6052,
// 8215, 2765); IPv4-mapped ones netip unmaps.
var (
	nat64Prefix      = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64
	nat64LocalPrefix = netip.MustParsePrefix("64:ff9b:1::/48")  // local-use NAT64
	compatPrefix     = netip.MustParsePrefix("::/96")           // IPv4-compatible, deprecated
	translatedPrefix = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT IPv4-translated
)

// privateBlocks are the private networks: RFC 1918, carrier-grade NAT
// (RFC 6598), network benchmarks (RFC 2544), unique local (RFC 4193) and
// the deprecated site-local IPv6 addresses.
var privateBlocks = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fec0::/10"),
}

// classOf classifies an address. Public is an allow-list: global unicast
// outside every special-purpose block above. An address that embeds one
// IPv4 address is classified by it; one whose IPv4 address cannot be
// told for sure (local-use NAT64, whose prefix length is the operator's;
// ISATAP) is public only if it is under every reading, and reserved
// otherwise; 6to4 and Teredo are reserved.
func classOf(a netip.Addr) addrClass {
	a = a.Unmap().WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		return classOf(v4)
	}
	if nat64LocalPrefix.Contains(a) {
		for _, v4 := range localNAT64Readings(a) {
			if classOf(v4) != classPublic {
				return classOther
			}
		}
		return classPublic
	}
	switch {
	case a.IsLoopback(), a.IsUnspecified(), thisNetPrefix.Contains(a):
		// 0.0.0.0 and :: reach the local host.
		return classLoopback
	case isPrivate(a):
		return classPrivate
	case a.IsLinkLocalUnicast():
		return classLinkLocal
	case !a.IsGlobalUnicast(), reservedPrefix.Contains(a), ietfPrefix.Contains(a),
		sixToFourPrefix.Contains(a), teredoPrefix.Contains(a), documentPrefix6.Contains(a),
		discardPrefix6.Contains(a), orchidPrefix6.Contains(a):
		return classOther
	}
	if v4, ok := isatapIPv4(a); ok && classOf(v4) != classPublic {
		return classOther
	}
	return classPublic
}

func isPrivate(a netip.Addr) bool {
	for _, p := range privateBlocks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// embeddedIPv4 is the IPv4 address an IPv4-compatible, SIIT-translated or
// well-known NAT64 address embeds (its last 32 bits).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || !(compatPrefix.Contains(a) || translatedPrefix.Contains(a) || nat64Prefix.Contains(a)) {
		return netip.Addr{}, false
	}
	b := a.As16()
	return netip.AddrFrom4([4]byte(b[12:])), true
}

// localNAT64Readings are the IPv4 addresses a local-use NAT64 address
// embeds at each prefix length RFC 6052 allows within 64:ff9b:1::/48
// (48, 56, 64 and 96 bits; bits 64-71 are skipped).
func localNAT64Readings(a netip.Addr) []netip.Addr {
	b := a.As16()
	return []netip.Addr{
		netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]}),
		netip.AddrFrom4([4]byte{b[7], b[9], b[10], b[11]}),
		netip.AddrFrom4([4]byte{b[9], b[10], b[11], b[12]}),
		netip.AddrFrom4([4]byte(b[12:])),
	}
}

// isatapIPv4 is the IPv4 address an ISATAP interface identifier
// (RFC 5214: 0000:5efe or 0200:5efe, with the group bit either way)
// embeds.
func isatapIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	if !a.Is6() || b[8]&^0x03 != 0 || b[9] != 0 || b[10] != 0x5e || b[11] != 0xfe {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[12:])), true
}

// effective is the address a connects to: the IPv4 address it embeds,
// if it embeds one for sure, else itself, unmapped and without zone.
func effective(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		return v4
	}
	return a
}

// ownNetwork is the network of a registry's private or link-local
// address: the /24 of an IPv4 address, the /64 of an IPv6 one.
func ownNetwork(a netip.Addr) netip.Prefix {
	a = effective(a)
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}

// reach is what a registry may reach besides public addresses.
type reach struct {
	loopback bool
	networks []netip.Prefix // private and link-local
	// proxied: the registry is reached through a proxy, which resolves
	// its name itself, so it reaches public addresses only.
	proxied bool
}

// reachOf is the reach of a registry on addrs. Its owner chooses its DNS
// records, so the addresses must agree on one kind, or the registry gets
// the reach of a public one (none): all loopback reach loopback; all
// private (for a literal link-local address, link-local) reach their
// network, which must be one /24 for IPv4 and one /64 for IPv6, and each
// network of named that holds every one of them of its family. A name
// that also resolves to a public, reserved or loopback address, or to
// private addresses in two networks, would otherwise add whatever its
// owner lists to what its redirects may reach. A registry named by a host
// name (not literal) gets no link-local network: a name with a link-local
// address reaches what a public registry does.
func reachOf(addrs []netip.Addr, literal bool, named []netip.Prefix) reach {
	var loopback bool
	var local []netip.Addr // private, or link-local by literal
	for _, a := range addrs {
		switch classOf(a) {
		case classLoopback:
			loopback = true
		case classPrivate:
			local = append(local, a)
		case classLinkLocal:
			if !literal {
				return reach{}
			}
			local = append(local, a)
		default:
			return reach{}
		}
	}
	switch {
	case loopback && len(local) > 0:
		return reach{}
	case loopback:
		return reach{loopback: true}
	case len(local) == 0:
		return reach{}
	}
	var r reach
	var own [2]netip.Prefix // IPv4, IPv6
	for _, a := range local {
		n, f := ownNetwork(a), 1
		if n.Addr().Is4() {
			f = 0
		}
		switch {
		case !own[f].IsValid():
			own[f] = n
			r.networks = append(r.networks, n)
		case own[f] != n:
			return reach{}
		}
	}
	for _, n := range named {
		holds, all := false, true
		for _, a := range local {
			e := effective(a)
			if e.Is4() != n.Addr().Is4() {
				continue
			}
			holds = true
			all = all && n.Contains(e)
		}
		if holds && all {
			r.networks = append(r.networks, n)
		}
	}
	return r
}

// allows reports whether a registry of reach r may connect to a.
func (r reach) allows(a netip.Addr) bool {
	switch classOf(a) {
	case classPublic:
		return true
	case classLoopback:
		return r.loopback
	case classPrivate, classLinkLocal:
		e := effective(a)
		for _, n := range r.networks {
			if n.Contains(e) {
				return true
			}
		}
	}
	return false
}

// PrivateNetwork reports whether p lies within one private block, as a
// network WithPrivateNetworks names must.
func PrivateNetwork(p netip.Prefix) bool {
	if !p.IsValid() || p.Addr().Zone() != "" {
		return false
	}
	p = p.Masked()
	for _, b := range privateBlocks {
		if b.Addr().Is4() == p.Addr().Is4() && b.Bits() <= p.Bits() && b.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// AddressError is a connection the guard refused.
type AddressError struct {
	host     string // as named: "localhost"
	addr     netip.Addr
	class    addrClass
	registry string
	networks []netip.Prefix // the registry's, if it has any
	proxied  bool           // the registry is reached through a proxy
}

func (e *AddressError) Error() string {
	named := e.addr.String()
	if e.host != named {
		named = fmt.Sprintf("%s (%s)", e.host, e.addr)
	}
	why := fmt.Sprintf("it is a %s address, and the registry is not on one", e.class)
	if (e.class == classPrivate || e.class == classLinkLocal) && len(e.networks) > 0 {
		nets := make([]string, len(e.networks))
		for i, n := range e.networks {
			nets[i] = n.String()
		}
		why = fmt.Sprintf("it is a %s address outside the registry's networks (%s)", e.class, strings.Join(nets, ", "))
	}
	if e.proxied && e.class != classOther {
		why = fmt.Sprintf("it is a %s address, and the registry, reached through the proxy (which resolves its name itself), counts as public; name the registry in NO_PROXY to reach it directly", e.class)
	}
	return fmt.Sprintf("refusing to connect to %s for registry %s: %s", named, e.registry, why)
}

// unresolvedError is a target, behind a proxy, that only the proxy could
// resolve, for a registry that this host resolves.
type unresolvedError struct{ host, registry string }

func (e *unresolvedError) Error() string {
	return fmt.Sprintf("refusing to send a request for registry %s to %s through the proxy: this host cannot resolve %s, though it resolves the registry, so only the proxy's network knows it", e.registry, e.host, e.host)
}

// netGuard resolves and checks addresses. lookup and dial are the
// network: net.DefaultResolver and a net.Dialer, or a test's; proxyOf is
// the proxy of a request, http.ProxyFromEnvironment or a test's.
type netGuard struct {
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	proxyOf func(*http.Request) (*url.URL, error)
	named   []netip.Prefix // WithPrivateNetworks

	mu         sync.Mutex
	origins    map[string]*origin         // by registry host name, lower case
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
		origins:    map[string]*origin{},
		transports: map[string]*http.Transport{},
	}
}

// origin is a registry host as the guard knows it. Once fixed, for the
// Client's life, its addresses and reach never change: the registry's own
// connections go to those addresses, and no later DNS answer makes it
// anything but what it was first found on.
type origin struct {
	host string // lower case, without brackets; "" outside any call

	mu    sync.Mutex
	fixed bool
	addrs []netip.Addr // as resolved; nil if named by none or not resolved
	reach reach
}

// originOf returns registry's origin ("host[:port]"), one per host.
func (g *netGuard) originOf(registry string) *origin {
	host := Hostname(registry)
	g.mu.Lock()
	defer g.mu.Unlock()
	o, ok := g.origins[host]
	if !ok {
		o = &origin{host: host}
		g.origins[host] = o
	}
	return o
}

// fix fixes o from its address, or from one resolution of its name, and
// returns its reach. A name that does not resolve is not fixed, and
// reaches public addresses only: nothing has reached it yet.
func (g *netGuard) fix(ctx context.Context, o *origin) reach {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fixed {
		return o.reach
	}
	if o.host == "" {
		o.fixed = true
		return o.reach
	}
	if a, err := netip.ParseAddr(o.host); err == nil {
		o.addrs = []netip.Addr{a.WithZone("")}
		o.reach, o.fixed = reachOf(o.addrs, true, g.named), true
		return o.reach
	}
	addrs, err := g.resolve(ctx, o.host)
	if err != nil {
		return reach{}
	}
	o.addrs, o.reach, o.fixed = addrs, reachOf(addrs, false, g.named), true
	return o.reach
}

// fixProxied fixes o as public for good: a request for its own host goes
// through a proxy, which resolves the name itself, so what this host
// resolved says nothing of where the registry is (a DNS server can answer
// this host with a loopback or private address and the proxy with its
// owner's). Its addresses stay, for messages.
func (o *origin) fixProxied() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fixed, o.reach = true, reach{proxied: true}
}

// state is o's addresses and reach, and whether they are fixed.
func (o *origin) state() (addrs []netip.Addr, r reach, fixed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.addrs, o.reach, o.fixed
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

// addrsOf returns host's addresses for o's registry: o's fixed ones if
// host is the registry's, else a resolution of its own.
func (g *netGuard) addrsOf(ctx context.Context, o *origin, host string) ([]netip.Addr, error) {
	if o.host != "" && Hostname(host) == o.host {
		if addrs, _, fixed := o.state(); fixed && addrs != nil {
			return addrs, nil
		}
	}
	return g.resolve(ctx, host)
}

// check returns an *addressError unless registry ("host[:port]") may reach
// addr, which host resolved to. A request outside any call ("") reaches
// public addresses only.
func (g *netGuard) check(ctx context.Context, registry, host string, addr netip.Addr) error {
	return checkReach(g.fix(ctx, g.originOf(registry)), registry, host, addr)
}

func checkReach(r reach, registry, host string, addr netip.Addr) error {
	if r.allows(addr) {
		return nil
	}
	if registry == "" {
		registry = "(none)"
	}
	return &AddressError{host: host, addr: addr.Unmap(), class: classOf(addr), registry: registry, networks: r.networks, proxied: r.proxied}
}

// route is how the guard sends one request: directly (proxy nil), every
// connection checked, or through proxy, whose own address (proxyAddr, as
// the transport dials it) is then the one connection not checked.
type route struct {
	proxy     *url.URL
	proxyAddr string
}

// RoundTrip sends req through the transport of its call's registry, the
// way g.route decides, once that registry's kind is fixed. Each
// registry has its own transport, and so its own idle connections: a
// connection opened for a loopback registry is never reused for a public
// one that redirects there.
func (g *netGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cl, err := callOf(req)
	if err != nil {
		return nil, err
	}
	registry := strings.ToLower(cl.registry)
	o := g.originOf(registry)
	g.mu.Lock()
	t, ok := g.transports[registry]
	if !ok {
		t = g.newTransport(registry, o)
		g.transports[registry] = t
	}
	g.mu.Unlock()
	rt, err := g.route(req, registry, o)
	if err != nil {
		return nil, err
	}
	resp, err := t.RoundTrip(req.WithContext(cl.routed(rt).Bind(ctx)))
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// newTransport is remote.DefaultTransport's settings, dialing through the
// guard for registry. Its Proxy and DialContext only carry out the route
// RoundTrip put in the request's call: the dial to the proxy of a
// proxied request is the one left unchecked, and a request without a
// route goes directly, checked.
func (g *netGuard) newTransport(registry string, o *origin) *http.Transport {
	return &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			if cl, ok := callFrom(req.Context()); ok && cl.route != nil {
				return cl.route.proxy, nil
			}
			return nil, nil
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if cl, ok := callFrom(ctx); ok && cl.route != nil && cl.route.proxy != nil && addr == cl.route.proxyAddr {
				return g.dial(ctx, network, addr)
			}
			return g.dialContext(ctx, registry, o, network, addr)
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
// of host's addresses (the registry's fixed ones, for its own host) that
// the guard allows and that answers.
func (g *netGuard) dialContext(ctx context.Context, registry string, o *origin, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	r := g.fix(ctx, o)
	addrs, err := g.addrsOf(ctx, o, host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, a := range addrs {
		if err := checkReach(r, registry, host, a); err != nil {
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
	var ae *AddressError
	if first == nil || (errors.As(err, &ae) && !errors.As(first, &ae)) {
		return err
	}
	return first
}

// route fixes the kind of req's registry, then decides how req goes:
// directly, if the environment's proxy (proxyOf) does not take it, or
// else through the proxy: a request for the registry's own host at once,
// the registry then public for good (origin.fixProxied), and any other
// once the addresses this host resolves its target to pass the check. A
// name this host cannot resolve is left to the proxy only where this host
// cannot resolve the registry either. The proxy is given the name, not
// the checked address: it resolves it itself (see the package comment).
func (g *netGuard) route(req *http.Request, registry string, o *origin) (*route, error) {
	ctx := req.Context()
	g.fix(ctx, o) // before anything is sent for the registry
	u, err := g.proxyOf(req)
	if u == nil || err != nil {
		return &route{}, err
	}
	host := req.URL.Hostname()
	if o.host != "" && Hostname(host) == o.host {
		// The proxy is about to reach the registry the caller named, at
		// an address of its own resolution: the registry is public for
		// good, and what this host resolved its name to says nothing.
		o.fixProxied()
		return &route{proxy: u, proxyAddr: proxyAddr(u)}, nil
	}
	regAddrs, r, _ := o.state()
	addrs, err := g.addrsOf(ctx, o, host)
	if err != nil {
		// Behind a proxy, often only the proxy resolves names: what it
		// reaches is then the proxy's policy. But where this host resolves
		// the registry itself, a target it cannot resolve is a name only
		// the proxy's network knows, and the registry may not send the
		// client there.
		if regAddrs != nil {
			return nil, &unresolvedError{host: host, registry: registry}
		}
		addrs = nil
	}
	for _, a := range addrs {
		if err := checkReach(r, registry, host, a); err != nil {
			return nil, err
		}
	}
	return &route{proxy: u, proxyAddr: proxyAddr(u)}, nil
}

// proxyAddr is the "host:port" the transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Hostname is the host of "host[:port]", lower case, without brackets.
func Hostname(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}
