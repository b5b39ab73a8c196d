package resolver

import (
	"strings"
	"testing"
)

// TestParseSourceAllowList: every character outside the allow-list, in
// either part of a template, is refused and named, printably.
func TestParseSourceAllowList(t *testing.T) {
	ok := "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}"
	if _, err := ParseSource(ok); err != nil {
		t.Fatal(err)
	}
	for c := rune(0); c < 0x80; c++ {
		if sourceChar(c) {
			continue
		}
		for _, at := range []int{len("127.0.0.1:5000/sdks"), len(ok) - 1} {
			bad := ok[:at] + string(c) + ok[at:]
			_, err := ParseSource(bad)
			if err == nil {
				t.Errorf("%q accepted", bad)
				continue
			}
			if !strings.Contains(err.Error(), "character "+quoteRune(c)+" is not allowed") {
				t.Errorf("%q: %v", bad, err)
			}
			for _, r := range err.Error() {
				if r < 0x20 || r == 0x7f {
					t.Errorf("%q: the error holds a control character: %q", bad, err)
					break
				}
			}
		}
	}
	for _, c := range []rune{0x85, 0xa0, 0x2028, 0xfeff} {
		if _, err := ParseSource(ok + string(c)); err == nil || !strings.Contains(err.Error(), quoteRune(c)) {
			t.Errorf("U+%04X: %v", c, err)
		}
	}
	if _, err := ParseSource(strings.Repeat("a", 400) + "/{platform}:{version}"); err == nil {
		t.Error("an overlong template accepted")
	}
}
