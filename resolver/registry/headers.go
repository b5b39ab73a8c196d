package registry

import (
	"net/url"
	"strings"
)

// Header parsing: Link (RFC 8288) for tag list paging and WWW-Authenticate
// (RFC 7235) for the messages of denied requests. ggcr parses
// WWW-Authenticate itself to answer challenges; this parser only explains
// them.

// nextLink returns the target of the Link with rel="next" among a
// response's Link header values, resolved against base (the URL of the
// request): distribution sends `</v2/<name>/tags/list?last=x&n=100>;
// rel="next"`. A link without any rel stands for next when no link has
// one, as some registries send it so. It returns nil if there is no usable
// link; malformed parts are skipped.
func nextLink(values []string, base *url.URL) *url.URL {
	var bare string
	for _, v := range values {
		for _, l := range parseLinks(v) {
			rel, hasRel := l.params["rel"]
			switch {
			case hasRel && hasToken(rel, "next"):
				return resolve(base, l.target)
			case !hasRel && bare == "":
				bare = l.target
			}
		}
	}
	if bare == "" {
		return nil
	}
	return resolve(base, bare)
}

func resolve(base *url.URL, ref string) *url.URL {
	u, err := url.Parse(ref)
	if err != nil {
		return nil
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	return u
}

// hasToken reports whether the space-separated list s has tok, ignoring case.
func hasToken(s, tok string) bool {
	for _, f := range strings.Fields(s) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

type link struct {
	target string
	params map[string]string // lowercased names; the first of each wins
}

// parseLinks parses one Link header value: `<uri>; a=b; c="d", <uri2>`. A
// malformed link-value is skipped up to the next comma outside quotes.
func parseLinks(s string) []link {
	var out []link
	lx := &lexer{s: s}
	for {
		lx.skip(" \t,")
		if lx.done() {
			return out
		}
		if !lx.eat('<') {
			lx.skipValue()
			continue
		}
		end := strings.IndexByte(lx.s[lx.i:], '>')
		if end < 0 {
			return out
		}
		l := link{target: strings.TrimSpace(lx.s[lx.i : lx.i+end]), params: map[string]string{}}
		lx.i += end + 1
		ok := true
		for {
			lx.skip(" \t")
			if !lx.eat(';') {
				break
			}
			lx.skip(" \t")
			k := strings.ToLower(lx.token())
			if k == "" {
				ok = false
				break
			}
			lx.skip(" \t")
			v := ""
			if lx.eat('=') {
				lx.skip(" \t")
				if lx.peek() == '"' {
					var closed bool
					if v, closed = lx.quoted(); !closed {
						ok = false
						break
					}
				} else {
					v = lx.token()
				}
			}
			if _, dup := l.params[k]; !dup {
				l.params[k] = v
			}
		}
		lx.skip(" \t")
		if !lx.done() && lx.peek() != ',' {
			ok = false
		}
		if ok {
			out = append(out, l)
		} else {
			lx.skipValue()
		}
	}
}

// challenge is one WWW-Authenticate challenge: `Bearer realm="…",service="…"`.
type challenge struct {
	Scheme string
	Params map[string]string // lowercased names; the first of each wins
}

// parseChallenges parses a WWW-Authenticate header value into its
// challenges. A token68 (`Basic dGVzdA==`) is not kept; parsing stops at
// the first malformed part.
func parseChallenges(s string) []challenge {
	var out []challenge
	lx := &lexer{s: s}
	for {
		lx.skip(" \t,")
		scheme := lx.token()
		if scheme == "" {
			return out
		}
		ch := challenge{Scheme: scheme, Params: map[string]string{}}
		for {
			mark := lx.i
			lx.skip(" \t,")
			k := lx.token()
			lx.skip(" \t")
			if k == "" || !lx.eat('=') {
				lx.i = mark // the next challenge, or the end
				break
			}
			if lx.peek() == '=' { // a token68's padding: not a parameter
				lx.i = mark
				lx.skipToken68()
				break
			}
			lx.skip(" \t")
			var v string
			if lx.peek() == '"' {
				var closed bool
				if v, closed = lx.quoted(); !closed {
					return append(out, ch)
				}
			} else {
				v = lx.token()
			}
			k = strings.ToLower(k)
			if _, dup := ch.Params[k]; !dup {
				ch.Params[k] = v
			}
		}
		out = append(out, ch)
	}
}

// lexer reads HTTP header syntax.
type lexer struct {
	s string
	i int
}

func (l *lexer) done() bool { return l.i >= len(l.s) }

func (l *lexer) peek() byte {
	if l.done() {
		return 0
	}
	return l.s[l.i]
}

func (l *lexer) eat(c byte) bool {
	if l.peek() == c && !l.done() {
		l.i++
		return true
	}
	return false
}

func (l *lexer) skip(set string) {
	for !l.done() && strings.IndexByte(set, l.s[l.i]) >= 0 {
		l.i++
	}
}

// token reads an RFC 9110 token.
func (l *lexer) token() string {
	start := l.i
	for !l.done() && isTokenChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// skipToken68 skips a token68: token characters and "=" padding.
func (l *lexer) skipToken68() {
	l.skip(" \t")
	for !l.done() && (isTokenChar(l.s[l.i]) || l.s[l.i] == '/' || l.s[l.i] == '=') {
		l.i++
	}
}

// quoted reads a quoted-string at '"', unescaping it; closed is false if
// it does not end.
func (l *lexer) quoted() (s string, closed bool) {
	var b strings.Builder
	l.i++ // '"'
	for !l.done() {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && !l.done():
			b.WriteByte(l.s[l.i])
			l.i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

// skipValue skips to the next comma outside quotes and angle brackets.
func (l *lexer) skipValue() {
	for !l.done() {
		switch l.s[l.i] {
		case ',':
			return
		case '"':
			l.quoted()
			continue
		case '<':
			if end := strings.IndexByte(l.s[l.i:], '>'); end >= 0 {
				l.i += end + 1
				continue
			}
		}
		l.i++
	}
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
