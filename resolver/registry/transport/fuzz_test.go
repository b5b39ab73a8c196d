package transport

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
)

// embeddings are the forms of IPv6 address that embed an IPv4 address,
// each filling its other bits from fill.
var embeddings = map[string]func(v4 [4]byte, fill [16]byte) netip.Addr{
	"mapped": func(v4 [4]byte, _ [16]byte) netip.Addr { return netip.AddrFrom16(netip.AddrFrom4(v4).As16()) },
	"compatible": func(v4 [4]byte, _ [16]byte) netip.Addr {
		var b [16]byte
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"translated": func(v4 [4]byte, _ [16]byte) netip.Addr {
		b := [16]byte{8: 0xff, 9: 0xff}
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"nat64": func(v4 [4]byte, _ [16]byte) netip.Addr {
		b := [16]byte{1: 0x64, 2: 0xff, 3: 0x9b}
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"nat64 local /48": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := localNAT64(fill)
		b[6], b[7], b[9], b[10] = v4[0], v4[1], v4[2], v4[3]
		return netip.AddrFrom16(b)
	},
	"nat64 local /56": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := localNAT64(fill)
		b[7], b[9], b[10], b[11] = v4[0], v4[1], v4[2], v4[3]
		return netip.AddrFrom16(b)
	},
	"nat64 local /64": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := localNAT64(fill)
		copy(b[9:13], v4[:])
		return netip.AddrFrom16(b)
	},
	"nat64 local /96": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := localNAT64(fill)
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
	"6to4": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := fill
		b[0], b[1] = 0x20, 0x02
		copy(b[2:6], v4[:])
		return netip.AddrFrom16(b)
	},
	"teredo": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := fill
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0, 0
		binary.BigEndian.PutUint32(b[12:], ^binary.BigEndian.Uint32(v4[:]))
		return netip.AddrFrom16(b)
	},
	"isatap": func(v4 [4]byte, fill [16]byte) netip.Addr {
		b := fill
		b[8], b[9], b[10], b[11] = fill[8]&0x03, 0, 0x5e, 0xfe
		copy(b[12:], v4[:])
		return netip.AddrFrom16(b)
	},
}

// localNAT64 is fill within 64:ff9b:1::/48, its u-octet (bits 64-71) zero.
func localNAT64(fill [16]byte) [16]byte {
	b := fill
	copy(b[:6], []byte{0, 0x64, 0xff, 0x9b, 0, 1})
	b[8] = 0
	return b
}

// exactEmbeddings embed exactly one IPv4 address, and take its class.
var exactEmbeddings = []string{"mapped", "compatible", "translated", "nat64"}

// FuzzClassEmbedded: an address that embeds an IPv4 address is never
// public unless that address is, in any form; in the forms that embed
// exactly one, it has that address's class.
func FuzzClassEmbedded(f *testing.F) {
	for _, v4 := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "172.17.0.1", "100.64.0.1", "0.0.0.0", "93.184.216.34", "224.0.0.1"} {
		a := netip.MustParseAddr(v4).As4()
		f.Add(a[:], make([]byte, 16))
		f.Add(a[:], []byte("\x2a\x00\x14\x50\x40\x01\x08\x11\x02\x00\x5e\xfe\x5d\x5d\x5d\x5d"))
	}
	f.Fuzz(func(t *testing.T, v4b, fillb []byte) {
		var v4 [4]byte
		var fill [16]byte
		copy(v4[:], v4b)
		copy(fill[:], fillb)
		want := classOf(netip.AddrFrom4(v4))
		for form, embed := range embeddings {
			a := embed(v4, fill)
			got := classOf(a)
			if got == classPublic && want != classPublic {
				t.Errorf("classOf(%s), %s of %s (%s), is public", a, form, netip.AddrFrom4(v4), want)
			}
			if slices.Contains(exactEmbeddings, form) && got != want {
				t.Errorf("classOf(%s), %s of %s, is %s, want %s", a, form, netip.AddrFrom4(v4), got, want)
			}
		}
	})
}

// FuzzReachOf: whatever addresses a name resolves to, the registry reaches
// loopback only if every one is loopback, and a private or link-local
// address only if every one of the name's addresses is private, all of a
// family in one /24 (/64), and the address is in that network or in a
// named network that holds all of them.
func FuzzReachOf(f *testing.F) {
	f.Add([]byte{10, 0, 0, 4, 127, 0, 0, 1}, []byte{10, 0, 0, 9}, false)
	f.Add([]byte{192, 168, 1, 50, 10, 1, 2, 3}, []byte{10, 1, 2, 200}, false)
	f.Add([]byte{10, 0, 0, 4}, []byte{10, 0, 0, 200}, false)
	f.Add([]byte{169, 254, 1, 1}, []byte{169, 254, 169, 254}, true)
	f.Add([]byte{127, 0, 0, 1}, []byte{127, 0, 0, 2}, false)
	named := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")}
	f.Fuzz(func(t *testing.T, raw, target []byte, literal bool) {
		var addrs []netip.Addr
		for i := 0; i+4 <= len(raw) && len(addrs) < 8; i += 4 {
			addrs = append(addrs, netip.AddrFrom4([4]byte(raw[i:i+4])))
		}
		if len(target) < 4 {
			return
		}
		to := netip.AddrFrom4([4]byte(target[:4]))
		r := reachOf(addrs, literal, named)
		if !r.allows(to) || classOf(to) == classPublic {
			return
		}
		for _, a := range addrs {
			c := classOf(a)
			switch classOf(to) {
			case classLoopback:
				if c != classLoopback {
					t.Fatalf("%v reaches loopback %v though it resolves to %v (%s)", addrs, to, a, c)
				}
			default:
				if c != classPrivate && !(literal && c == classLinkLocal) {
					t.Fatalf("%v reaches %v though it resolves to %v (%s)", addrs, to, a, c)
				}
				if ownNetwork(a) != ownNetwork(addrs[0]) {
					t.Fatalf("%v, in two networks, reaches %v", addrs, to)
				}
				if !ownNetwork(a).Contains(to) && !slices.ContainsFunc(named, func(n netip.Prefix) bool { return n.Contains(to) && n.Contains(a) }) {
					t.Fatalf("%v reaches %v, outside its network and the named ones", addrs, to)
				}
			}
		}
	})
}
