package transport

import "testing"

// An excerpt is printable text on one line, cut at a rune.
func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"plain text", 200, "plain text"},
		{"  lines\r\n\tand  tabs \n", 200, "lines and tabs"},
		{"\x1b[31mred\x1b[0m", 200, "?[31mred?[0m"},
		{"bidi \u202eevil", 200, "bidi ?evil"},
		{"bad \xff utf8", 200, "bad ? utf8"},
		{"nul\x00byte", 200, "nul?byte"},
		{"0123456789", 5, "01234…"},
		{"ééééé", 5, "éé…"},
		{"", 5, ""},
	} {
		if got := Excerpt([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
