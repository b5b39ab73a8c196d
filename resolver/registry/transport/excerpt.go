package transport

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Excerpt is the start of b, at most n bytes of it, as one line of
// printable text: invalid UTF-8 and every rune that is not printable
// (control characters, escape sequences, bidirectional overrides) become
// '?', runs of white space one space. It is all of a response that an
// error message quotes.
func Excerpt(b []byte, n int) string {
	var sb strings.Builder
	space := false
	for len(b) > 0 && sb.Len() <= n {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			r = '?'
		case unicode.IsSpace(r):
			space = sb.Len() > 0
			continue
		case !unicode.IsPrint(r):
			r = '?'
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	s := sb.String()
	cut := len(b) > 0
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], true
	}
	if cut {
		s += "…"
	}
	return s
}
