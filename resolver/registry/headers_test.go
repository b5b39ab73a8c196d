package registry

import (
	"fmt"
	"net/url"
	"testing"
)

func TestNextLink(t *testing.T) {
	base, _ := url.Parse("https://reg.example/v2/sdks/golang/tags/list?n=100")
	for _, tc := range []struct {
		values []string
		want   string // "" for none
	}{
		{[]string{`</v2/sdks/golang/tags/list?last=b&n=100>; rel="next"`}, "https://reg.example/v2/sdks/golang/tags/list?last=b&n=100"},
		{[]string{`<https://other.example/x>; rel="prev", </y>; rel=next`}, "https://reg.example/y"},
		{[]string{`</x>; title="a, b; c"; rel="next"`}, "https://reg.example/x"},
		{[]string{`</x>; rel="next last"`}, "https://reg.example/x"},
		{[]string{`</x>; REL="NEXT"`}, "https://reg.example/x"},
		{[]string{`</bare>`}, "https://reg.example/bare"},                      // no rel at all: taken as next
		{[]string{`</bare>`, `</n>; rel="next"`}, "https://reg.example/n"},     // rel=next wins
		{[]string{`</p>; rel="prev"`}, ""},                                     // another relation
		{[]string{`garbage, </n>; rel="next"`}, "https://reg.example/n"},       // a bad link-value is skipped
		{[]string{`</n; rel="next"`}, ""},                                      // unterminated
		{[]string{`<http://[::1>; rel="next"`}, ""},                            // unparseable
		{[]string{`<//evil.example/x>; rel="next"`}, "https://evil.example/x"}, // resolved; ListTags ignores it
		{nil, ""},
	} {
		got := nextLink(tc.values, base)
		if (got == nil) != (tc.want == "") || got != nil && got.String() != tc.want {
			t.Errorf("nextLink(%q) = %v, want %q", tc.values, got, tc.want)
		}
	}
}

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/golang:pull"`,
			`[{Bearer map[realm:https://auth.docker.io/token scope:repository:library/golang:pull service:registry.docker.io]}]`},
		{`Basic realm="Registry Realm"`, `[{Basic map[realm:Registry Realm]}]`},
		{`Basic dGVzdA==, Bearer realm="x"`, `[{Basic map[]} {Bearer map[realm:x]}]`},
		{`Negotiate, Basic realm=x`, `[{Negotiate map[]} {Basic map[realm:x]}]`},
		{`Bearer realm="a\"b", realm="second"`, `[{Bearer map[realm:a"b]}]`},
		{`Bearer realm="unterminated`, `[{Bearer map[]}]`},
		{``, `[]`},
	} {
		if got := fmt.Sprint(parseChallenges(tc.in)); got != tc.want {
			t.Errorf("parseChallenges(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
