package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
)

func TestClassOf(t *testing.T) {
	for addr, want := range map[string]addrClass{
		"93.184.216.34":                        classPublic,
		"2606:2800:220:1::1":                   classPublic,
		"::ffff:93.184.216.34":                 classPublic,
		"127.0.0.1":                            classLoopback,
		"127.8.9.10":                           classLoopback,
		"::1":                                  classLoopback,
		"::ffff:127.0.0.1":                     classLoopback,
		"0.0.0.0":                              classLoopback,
		"::":                                   classLoopback,
		"0.1.2.3":                              classLoopback,
		"10.0.0.5":                             classPrivate,
		"172.16.3.4":                           classPrivate,
		"192.168.1.1":                          classPrivate,
		"100.64.1.1":                           classPrivate,
		"198.18.0.1":                           classPrivate,
		"fd00:ec2::254":                        classPrivate,
		"64:ff9b::10.0.0.1":                    classPrivate,
		"64:ff9b::93.184.216.34":               classPublic,
		"169.254.169.254":                      classLinkLocal,
		"fe80::1":                              classLinkLocal,
		"224.0.0.1":                            classOther,
		"ff02::1":                              classOther,
		"255.255.255.255":                      classOther,
		"240.0.0.1":                            classOther,
		"2002:a00:1::1":                        classOther, // 6to4 of 10.0.0.1
		"2002:5db8:d822::1":                    classOther, // 6to4 of 93.184.216.34
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": classOther, // Teredo
		"64:ff9b::127.0.0.1":                   classLoopback,
		"64:ff9b::169.254.169.254":             classLinkLocal,
		// Local-use NAT64: public only if public at every prefix length.
		"64:ff9b:1::10.0.0.1":              classOther,
		"64:ff9b:1::127.0.0.1":             classOther,
		"64:ff9b:1:a00:1::":                classOther,  // 10.0.0.1 at /48
		"64:ff9b:1:5d5d:5d:5d5d:5d5d:5d5d": classPublic, // 93.93.93.93 at every length
		// IPv4-compatible and SIIT-translated.
		"::127.0.0.1":        classLoopback,
		"::10.0.0.1":         classPrivate,
		"::169.254.169.254":  classLinkLocal,
		"::93.184.216.34":    classPublic,
		"::ffff:0:127.0.0.1": classLoopback,
		"::ffff:0:10.0.0.1":  classPrivate,
		// ISATAP interface identifiers.
		"2a00:1450:4001::5efe:10.0.0.1":          classOther,
		"2a00:1450:4001::200:5efe:127.0.0.1":     classOther,
		"2a00:1450:4001::200:5efe:93.184.216.34": classPublic,
		"2001:db8::1":                            classOther,
	} {
		if got := classOf(netip.MustParseAddr(addr)); got != want {
			t.Errorf("classOf(%s) = %s, want %s", addr, got, want)
		}
	}
}

// Which addresses a registry may reach: public ones always; loopback,
// private and link-local ones only if the registry has an address of that
// kind itself, link-local only if named by one.
func TestGuardCheck(t *testing.T) {
	n := fakeDNS{
		"localhost":   {"127.0.0.1"},
		"public.test": {"93.184.216.34"},
		"lan.test":    {"10.0.0.4"},
		"split.test":  {"93.184.216.35", "192.168.0.9"},
		"meta.test":   {"169.254.169.254"},
		"mixed.test":  {"10.0.0.4", "127.0.0.1"},
		"lan2.test":   {"192.168.1.50", "10.1.2.3"},
		"dual.test":   {"10.0.0.4", "fd00:ec2::4"},
		"wide.test":   {"10.0.0.4", "10.0.0.9"},
	}
	g := newNetGuard()
	g.lookup = n.lookup
	for _, tc := range []struct {
		registry, target string
		ok               bool
	}{
		{"public.test", "93.184.216.99", true},
		{"public.test", "127.0.0.1", false},
		{"public.test", "::1", false},
		{"public.test", "0.0.0.0", false},
		{"public.test", "10.0.0.5", false},
		{"public.test", "169.254.169.254", false},
		{"public.test", "224.0.0.1", false},
		{"lan.test:5000", "10.0.0.5", true},
		{"lan.test:5000", "127.0.0.1", false},
		{"lan.test:5000", "169.254.169.254", false},
		// A registry with any public address is public, whatever else its
		// DNS names: its owner chooses those records.
		{"split.test", "10.9.9.9", false},
		{"split.test", "192.168.0.9", false},
		{"split.test", "93.184.216.99", true},
		// The addresses of a name must agree on one kind and one network,
		// or the registry reaches what a public one does: its owner could
		// otherwise list loopback, or a second network, beside its own.
		{"mixed.test", "127.0.0.1", false},
		{"mixed.test", "10.0.0.5", false},
		{"lan2.test", "10.1.2.200", false},
		{"lan2.test", "192.168.1.9", false},
		{"dual.test", "10.0.0.77", true},
		{"dual.test", "fd00:ec2::99", true},
		{"dual.test", "10.0.1.1", false},
		{"wide.test", "10.0.0.200", true},
		{"localhost:5000", "127.0.0.1", true},
		{"localhost:5000", "10.0.0.5", false},
		{"127.0.0.1:5000", "::1", true},
		{"[::1]:5000", "127.0.0.1", true},
		// A private registry reaches its own /24 or /64, no other network.
		{"10.0.0.4:5000", "10.0.0.200", true},
		{"10.0.0.4:5000", "10.1.1.1", false},
		{"10.0.0.4:5000", "172.17.0.1", false},
		{"10.0.0.4:5000", "fd00:ec2::254", false},
		{"10.0.0.4:5000", "64:ff9b::10.0.0.9", true},
		{"10.0.0.4:5000", "64:ff9b::10.0.1.9", false},
		{"192.168.1.10:5000", "192.168.1.99", true},
		{"192.168.1.10:5000", "10.0.0.1", false},
		{"192.168.1.10:5000", "172.17.0.1", false},
		{"100.64.0.1", "100.64.0.9", true},
		{"100.64.0.1", "10.0.0.1", false},
		{"100.64.0.1", "172.17.0.1", false},
		{"[fd00:1::5]:5000", "fd00:1::9", true},
		{"[fd00:1::5]:5000", "fd00:1:0:1::9", false},
		{"[fd00:1::5]:5000", "10.0.0.1", false},
		{"meta.test", "169.254.169.254", false}, // a name gets no link-local
		{"169.254.1.1:5000", "169.254.1.7", true},
		{"169.254.1.1:5000", "169.254.169.254", false},
		{"224.0.0.1", "224.0.0.1", false},
		{"unknown.test", "127.0.0.1", false},
		{"", "127.0.0.1", false},
		{"", "93.184.216.34", true},
	} {
		err := g.check(context.Background(), tc.registry, "target", netip.MustParseAddr(tc.target))
		var ae *AddressError
		if (err == nil) != tc.ok || (err != nil && !errors.As(err, &ae)) {
			t.Errorf("registry %q reaching %s: %v, want ok=%v", tc.registry, tc.target, err, tc.ok)
		}
	}
}

// Behind a proxy, the guard checks the target as this host resolves it,
// and lets the proxy's own address be dialed.
func TestGuardProxy(t *testing.T) {
	n := fakeDNS{"registry.test": {"93.184.216.34"}, "storage.test": {"93.184.216.40"}}
	g := newNetGuard()
	g.lookup = n.lookup
	proxyURL, _ := url.Parse("http://proxy.test:3128")
	g.proxyOf = func(*http.Request) (*url.URL, error) { return proxyURL, nil }
	for _, tc := range []struct {
		registry, target string
		ok               bool
	}{
		{"registry.test", "https://registry.test/v2/", true},
		{"registry.test", "https://storage.test/blob", true},
		{"registry.test", "http://localhost:5000/", false},
		{"registry.test", "http://169.254.169.254/", false},
		// This host resolves the registry: a target only the proxy
		// resolves is only the proxy's network's.
		{"registry.test", "https://only-the-proxy-resolves.test/", false},
		// This host resolves nothing the proxy serves: the proxy's policy.
		{"proxied.test", "https://proxied.test/v2/", true},
		{"proxied.test", "https://only-the-proxy-resolves.test/", true},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		rt, err := g.route(req, tc.registry, g.originOf(tc.registry))
		switch {
		case tc.ok && (err != nil || rt.proxy != proxyURL || rt.proxyAddr != "proxy.test:3128"):
			t.Errorf("%s: %+v, %v", tc.target, rt, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: not refused: %+v", tc.target, rt)
		}
	}
}

// A registry in a network WithPrivateNetworks names reaches all of it,
// and nothing more; one outside reaches its own network; a public one no
// private address.
func TestGuardPrivateNetworks(t *testing.T) {
	n := fakeDNS{"lan.test": {"10.0.0.4"}, "public.test": {"93.184.216.34"}}
	tr := New(Options{Lookup: n.lookup, PrivateNetworks: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00:ec2::/32"),
		netip.MustParsePrefix("93.184.0.0/16"), // not private: ignored
	}})
	g := tr.(*retryTransport).next.(tlsGuard).next.(*netGuard)
	for _, tc := range []struct {
		registry, target string
		ok               bool
	}{
		{"10.0.0.4:5000", "10.1.1.1", true},
		{"lan.test", "10.200.0.1", true},
		{"10.0.0.4:5000", "172.17.0.1", false},
		{"10.0.0.4:5000", "fd00:ec2::254", false},
		{"[fd00:ec2::1]:5000", "fd00:ec2:1::254", true},
		{"[fd00:ec2::1]:5000", "10.0.0.5", false},
		{"192.168.1.10:5000", "192.168.1.11", true},
		{"192.168.1.10:5000", "10.0.0.1", false},
		{"public.test", "10.0.0.1", false},
		{"93.184.216.34", "93.184.1.1", true}, // public anyway
		{"10.0.0.4:5000", "127.0.0.1", false},
	} {
		err := g.check(context.Background(), tc.registry, "target", netip.MustParseAddr(tc.target))
		if (err == nil) != tc.ok {
			t.Errorf("registry %q reaching %s: %v, want ok=%v", tc.registry, tc.target, err, tc.ok)
		}
	}
}

// fakeDNS resolves the names it holds to their addresses, and no other
// (the registry package's tests have a whole fake network).
type fakeDNS map[string][]string

func (d fakeDNS) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	names, ok := d[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	addrs := make([]netip.Addr, len(names))
	for i, a := range names {
		addrs[i] = netip.MustParseAddr(a)
	}
	return addrs, nil
}
