package transport

import "testing"

// A token realm gets the keychain's credentials on the registry's own
// host, where named, or Docker Hub's for Docker Hub, and never in clear
// text unless that host is reached without TLS anyway.
func TestTrustsRealm(t *testing.T) {
	// As the registry client's TLS rule has it: loopback, and a registry
	// configured as insecure.
	plainHTTP := func(host string) bool { return host == "127.0.0.1:5000" || host == "insecure.example:5000" }
	r := CredentialRealms{Named: []string{"auth.example.com", "login.example.org:8443"}, PlainHTTP: plainHTTP}
	for _, tc := range []struct {
		registry, realm string
		want            bool
	}{
		{"ghcr.io", "https://ghcr.io/token", true},
		{"ghcr.io", "https://GHCR.io:443/token", true},
		{"reg.example:5000", "https://reg.example/token", true},
		{"reg.example:5000", "https://evil.example/token", false},
		{"reg.example", "https://reg.example.evil.example/token", false},
		{"reg.example", "https://auth.example.com/token", true},
		{"reg.example", "https://auth.example.com:9000/token", true},
		{"reg.example", "https://login.example.org:8443/token", true},
		{"reg.example", "https://login.example.org/token", false},
		{"index.docker.io", "https://auth.docker.io/token", true},
		{"registry-1.docker.io", "https://auth.docker.io/token", true},
		{"quay.io", "https://auth.docker.io/token", false},
		{"reg.example", "not a url", false},
		{"reg.example", "", false},
		// Never in clear text, but to a host reached without TLS anyway.
		{"ghcr.io", "http://ghcr.io/token", false},
		{"reg.example", "http://auth.example.com/token", false},
		{"reg.example", "ftp://reg.example/token", false},
		{"127.0.0.1:5000", "http://127.0.0.1:5000/token", true},
		{"insecure.example:5000", "http://insecure.example:5000/token", true},
		{"insecure.example:5000", "http://insecure.example:8080/token", false},
	} {
		if got := r.Trusts(tc.registry, tc.realm); got != tc.want {
			t.Errorf("Trusts(%q, %q) = %v, want %v", tc.registry, tc.realm, got, tc.want)
		}
	}
}
