package registry

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// fakeNet is a made-up network for the network guard's tests. Names
// resolve to the addresses it maps them to (localhost to 127.0.0.1); a
// connection to a loopback address goes there, and one to an address it
// routes goes to that port on 127.0.0.1, where the test servers are: so a
// test server can stand for a public registry.
type fakeNet struct {
	mu      sync.Mutex
	names   map[string][]netip.Addr
	answers map[string][][]netip.Addr // successive answers, the last repeating
	lookups map[string]int
	routed  map[netip.Addr]bool
	dialed  []string // addresses dialed, as asked
}

func newFakeNet() *fakeNet {
	return &fakeNet{names: map[string][]netip.Addr{"localhost": {netip.MustParseAddr("127.0.0.1")}},
		lookups: map[string]int{}, routed: map[netip.Addr]bool{}, answers: map[string][][]netip.Addr{}}
}

// rebind makes name's lookups answer each of answers in turn (addresses
// separated by spaces; "" for no such host), the last one from then on: a
// DNS server with TTL 0.
func (n *fakeNet) rebind(name string, answers ...string) *fakeNet {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ans := range answers {
		var addrs []netip.Addr
		for _, a := range strings.Fields(ans) {
			addrs = append(addrs, netip.MustParseAddr(a))
		}
		n.answers[name] = append(n.answers[name], addrs)
	}
	return n
}

// lookupsOf is how often name was looked up.
func (n *fakeNet) lookupsOf(name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lookups[name]
}

// host maps name to addrs; routed ones reach the test servers.
func (n *fakeNet) host(name string, addrs ...string) *fakeNet {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		n.names[name] = append(n.names[name], netip.MustParseAddr(a))
	}
	return n
}

func (n *fakeNet) route(addrs ...string) *fakeNet {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addrs {
		n.routed[netip.MustParseAddr(a)] = true
	}
	return n
}

func (n *fakeNet) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lookups[host]++
	if ans := n.answers[host]; len(ans) > 0 {
		if addrs := ans[min(n.lookups[host], len(ans))-1]; len(addrs) > 0 {
			return addrs, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	addrs, ok := n.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("the test network dials addresses, not %q", addr)
	}
	n.mu.Lock()
	n.dialed = append(n.dialed, addr)
	routed := n.routed[ap.Addr()]
	n.mu.Unlock()
	switch {
	case ap.Addr().IsLoopback():
	case routed:
		addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s is unreachable in the test network", addr)}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func (n *fakeNet) dials() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.dialed...)
}

// option makes a client use the network.
func (n *fakeNet) option() Option {
	return func(o *options) { o.lookup, o.dial = n.lookup, n.dial }
}
