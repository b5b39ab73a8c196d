package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/resolver"
)

var fast = WithRetries(2, time.Millisecond)

func TestPlainHTTP(t *testing.T) {
	c := New(WithInsecureRegistries([]string{"reg.internal:5000", "other.internal"}))
	for host, want := range map[string]bool{
		"127.0.0.1:5000":     true,
		"127.1.2.3":          true,
		"[::1]:5000":         true,
		"localhost:5000":     true,
		"localhost":          true,
		"reg.internal:5000":  true,
		"reg.internal:5001":  false,
		"other.internal:443": true,
		"10.0.0.1:5000":      false,
		"192.168.1.1":        false,
		"mcr.microsoft.com":  false,
		"localhost.evil.com": false,
	} {
		if got := c.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}

// A registry not on loopback is used over plain HTTP only when configured
// as insecure. The test registry is reached under made-up names and
// addresses through a made-up network.
func TestInsecureRegistries(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push(t, "sdks/golang:bookworm-1.23.4", sdkImage(t, false, nil))
	dial := newFakeNet().host("sdk-registry.test", "93.184.216.34").route("93.184.216.34", "10.1.2.3").option()
	_, port, _ := net.SplitHostPort(reg.Host)
	named, private := "sdk-registry.test:"+port, "10.1.2.3:"+port

	for _, tc := range []struct {
		host  string
		opts  []Option
		msg   string // error wanted, if any
		cause resolver.RegistryCause
	}{
		{named, nil, "server gave HTTP response to HTTPS client; if the registry is plain HTTP, configure it as insecure", resolver.CausePlainHTTP},
		// ggcr would fall back to plain HTTP for a private address.
		{private, nil, "refusing plain HTTP to " + private, resolver.CauseNone},
		{named, []Option{WithInsecureRegistries([]string{named})}, "", resolver.CauseNone},
		{private, []Option{WithInsecureRegistries([]string{"10.1.2.3"})}, "", resolver.CauseNone},
	} {
		tags, err := New(append(tc.opts, dial, fast)...).ListTags(context.Background(), tc.host+"/sdks/golang")
		switch {
		case tc.msg == "" && (err != nil || fmt.Sprint(tags) != "[bookworm-1.23.4]"):
			t.Errorf("%s %d options: %v, %v", tc.host, len(tc.opts), tags, err)
		case tc.msg != "" && (!errors.Is(err, resolver.ErrUnreachable) || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: error %v\nwant ErrUnreachable containing %q", tc.host, err, tc.msg)
		}
		var re *resolver.RegistryError
		if tc.msg != "" && (!errors.As(err, &re) || re.Cause != tc.cause) {
			t.Errorf("%s: error %v (%T): want a RegistryError of cause %v", tc.host, err, err, tc.cause)
		}
	}
}

// A registry that does not answer must be reachable from where the client
// reads it: buildkitd's network for the frontend, this machine for
// sdkfront lock. Both ways of not answering say so: connections refused on
// every attempt, and no answer within the call timeout.
func TestUnreachableNamesReader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	stall := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(stall.Close)
	stalled := strings.TrimPrefix(stall.URL, "http://")

	for _, tc := range []struct {
		reader Reader
		opts   []Option
		want   string
	}{
		{ReaderBuildkitd, nil, "reachable from buildkitd"},
		{ReaderBuildkitd, []Option{WithReader(ReaderBuildkitd)}, "reachable from buildkitd"},
		{ReaderLocal, []Option{WithReader(ReaderLocal)}, "reachable from this machine"},
	} {
		for _, host := range []string{refused, stalled} {
			c := New(append(tc.opts, fast, WithTimeout(200*time.Millisecond))...)
			_, err := c.ListTags(context.Background(), host+"/sdks/golang")
			var re *resolver.RegistryError
			if !errors.As(err, &re) || !errors.Is(err, resolver.ErrUnreachable) || !strings.HasSuffix(re.Hint, "check that it is up and "+tc.want+", or try again later") {
				t.Errorf("%v, %s: %v", tc.reader, host, err)
			}
		}
	}
}
