package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

// tokenServer issues bearer tokens and records the Authorization header
// of every token request.
type tokenServer struct {
	mu        sync.Mutex
	auth      []string
	anonymous bool // whether it issues tokens without credentials
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	ts.auth = append(ts.auth, r.Header.Get("Authorization"))
	anonymous := ts.anonymous
	ts.mu.Unlock()
	if r.Header.Get("Authorization") == "" && !anonymous {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, distError("UNAUTHORIZED", "credentials required"))
		return
	}
	fmt.Fprint(w, `{"token":"tok"}`)
}

func (ts *tokenServer) requests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.auth)
}

// tokenRegistry is a registry holding sdks/golang that wants a bearer
// token from realm(host), host being its own "127.0.0.1:port"; it serves
// /token itself with ts.
func tokenRegistry(t *testing.T, ts *tokenServer, realm func(host string) string) *testregistry.Registry {
	t.Helper()
	var armed atomic.Bool // once the image is pushed
	reg := testregistry.New(t, testregistry.Wrap(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case !armed.Load():
				next.ServeHTTP(w, r)
			case r.URL.Path == "/token":
				ts.ServeHTTP(w, r)
			case r.Header.Get("Authorization") != "Bearer tok" && r.Method == http.MethodGet:
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="test"`, realm(r.Host)))
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, distError("UNAUTHORIZED", "authentication required"))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}))
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	armed.Store(true)
	return reg
}

// The keychain's credentials go to a token realm on the registry's own
// host, and to one on another host only if WithCredentialRealms names it;
// otherwise the token is asked for anonymously, and a denial says why.
func TestCredentialRealms(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("dev:pw"))
	for _, tc := range []struct {
		name      string
		otherHost bool     // the realm is on localhost, the registry on 127.0.0.1
		anonymous bool     // the token service issues tokens without credentials
		realms    []string // WithCredentialRealms; {port} is the token service's
		wantAuth  string   // of the token request
		msg       string   // error wanted, if any
	}{
		{name: "same host", wantAuth: basic},
		{name: "other host", otherHost: true, anonymous: true, wantAuth: ""},
		{name: "other host, named", otherHost: true, realms: []string{"localhost"}, wantAuth: basic},
		{name: "other host, named with its port", otherHost: true, realms: []string{"localhost:{port}"}, wantAuth: basic},
		{name: "other host, another named", otherHost: true, anonymous: true, realms: []string{"auth.example.com", "localhost:1"}, wantAuth: ""},
		{name: "other host, denied", otherHost: true, wantAuth: "",
			msg: "the credentials for {registry} were not sent to the token service it names, http://localhost:{port}/token, as that is on another host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := &tokenServer{anonymous: tc.anonymous}
			other := httptest.NewServer(ts)
			t.Cleanup(other.Close)
			port := strings.TrimPrefix(other.URL, "http://127.0.0.1:")
			reg := tokenRegistry(t, ts, func(host string) string {
				if tc.otherHost {
					return "http://localhost:" + port + "/token"
				}
				return "http://" + host + "/token"
			})
			var realms []string
			for _, r := range tc.realms {
				realms = append(realms, strings.ReplaceAll(r, "{port}", port))
			}
			keychain := staticKeychain{reg.Host: {Username: "dev", Password: "pw"}}
			c := New(WithCredentialRealms(realms), WithKeychain(keychain), fast)
			tags, err := c.ListTags(context.Background(), reg.Host+"/sdks/golang")
			msg := strings.NewReplacer("{registry}", reg.Host, "{port}", port).Replace(tc.msg)
			switch {
			case msg == "" && (err != nil || !slices.Equal(tags, []string{"bookworm-1.23.4"})):
				t.Fatalf("ListTags = %v, %v", tags, err)
			case msg != "" && (!errors.Is(err, resolver.ErrDenied) || !strings.Contains(err.Error(), msg)):
				t.Fatalf("error %v\nwant ErrDenied containing %q", err, msg)
			}
			var re *resolver.RegistryError
			if msg != "" && (!errors.As(err, &re) || re.Cause != resolver.CauseCredentialsWithheld || re.Realm != "http://localhost:"+port+"/token") {
				t.Errorf("error %#v, want the withheld realm", re)
			}
			got := ts.requests()
			if len(got) == 0 {
				t.Fatal("no token request")
			}
			for _, a := range got {
				if a != tc.wantAuth {
					t.Errorf("token request with Authorization %q, want %q", a, tc.wantAuth)
				}
			}
		})
	}
}

func TestCredentialRealmsFromEnv(t *testing.T) {
	t.Setenv(CredentialRealmsEnv, " auth.example.com, login.example.org:8443  other.example ")
	want := []string{"auth.example.com", "login.example.org:8443", "other.example"}
	if got := CredentialRealmsFromEnv(); !slices.Equal(got, want) {
		t.Errorf("CredentialRealmsFromEnv() = %q, want %q", got, want)
	}
}

var _ authn.Keychain = staticKeychain{}

// The client's realms follow its own rules: those it names, and its TLS
// rule (WithInsecureRegistries) for realms in clear text.
func TestClientRealms(t *testing.T) {
	const registry, realm = "insecure.example:5000", "http://insecure.example:5000/token"
	if New().realms().Trusts(registry, realm) {
		t.Errorf("a realm in clear text is trusted on a registry not configured as insecure")
	}
	if !New(WithInsecureRegistries([]string{registry})).realms().Trusts(registry, realm) {
		t.Errorf("a realm on an insecure registry's host is not trusted")
	}
	if !New(WithCredentialRealms([]string{"auth.example.com"})).realms().Trusts("reg.example", "https://auth.example.com/token") {
		t.Errorf("a realm WithCredentialRealms names is not trusted")
	}
}
