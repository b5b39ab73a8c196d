package registry

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePrivateNetworks(t *testing.T) {
	got, err := ParsePrivateNetworks(" 10.0.0.0/8, fd00:ec2::/32  192.168.4.7/24,100.64.0.0/10")
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00:ec2::/32"),
		netip.MustParsePrefix("192.168.4.0/24"), netip.MustParsePrefix("100.64.0.0/10")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParsePrivateNetworks = %v, %v; want %v", got, err, want)
	}
	_, err = ParsePrivateNetworks("10.0.0.0/7 0.0.0.0/0 127.0.0.0/8 8.8.8.0/24 169.254.0.0/16 ::/0 10.1.2.3 10.0.0.0/8")
	for _, bad := range []string{`"10.0.0.0/7"`, `"0.0.0.0/0"`, `"127.0.0.0/8"`, `"8.8.8.0/24"`, `"169.254.0.0/16"`, `"::/0"`, `"10.1.2.3" is not a network`} {
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("error %v does not name %s", err, bad)
		}
	}
	if err != nil && strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("error %v names a private network", err)
	}
}

func TestPrivateNetworksFromEnv(t *testing.T) {
	t.Setenv(PrivateNetworksEnv, "10.0.0.0/16")
	if got, err := PrivateNetworksFromEnv(); err != nil || !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}) {
		t.Errorf("PrivateNetworksFromEnv() = %v, %v", got, err)
	}
	t.Setenv(PrivateNetworksEnv, "8.8.8.0/24")
	if _, err := PrivateNetworksFromEnv(); err == nil || !strings.HasPrefix(err.Error(), PrivateNetworksEnv+": ") {
		t.Errorf("PrivateNetworksFromEnv() error %v, want one naming %s", err, PrivateNetworksEnv)
	}
}
