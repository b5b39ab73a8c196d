package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// Lists (tags/list and _catalog pages) are decoded as they arrive, token
// by token, so that what a page takes in memory is what it lists: a page
// is never held whole, nor is any string longer than anything it may list.

// maxListString bounds a string of a list page, as encoded between its
// quotes: past it, the string is read on but not kept. A tag is at most 128
// characters and a repository name 255, six bytes each when escaped as
// \u0041, so a string this long decodes to neither.
const maxListString = 4096

// maxListDepth bounds how deep the members a page's decoder skips nest,
// as encoding/json bounds it.
const maxListDepth = 10000

// decodeList decodes a JSON object from r, passing each string of its
// member key, an array of strings, to add, in order. A member of null is
// an empty list, a null element is "", and of two members named key the
// last counts, as with encoding/json: reset is called as each starts. A
// string longer than maxListString reaches add as "\x00", which lists
// nothing valid. Other members are skipped token by token. Anything but
// an object whose last key member, if any, is an array of strings or null
// is an error, as is data after the object; so is an error of add.
func decodeList(r io.Reader, key string, add func(string) error, reset func()) error {
	dec := json.NewDecoder(&boundStrings{r: r, max: maxListString})
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	var bad error // of the last key member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if k, _ := tok.(string); k != key {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		reset()
		bad = nil
		if tok, err = dec.Token(); err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); tok != nil && (!ok || d != '[') {
			bad = fmt.Errorf("cannot unmarshal %s into the list of %s", describe(tok), key)
			if err := skipRest(dec, tok); err != nil {
				return err
			}
			continue
		}
		for tok != nil && dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			switch {
			case !ok && tok != nil:
				if bad == nil {
					bad = fmt.Errorf("cannot unmarshal %s into a string of %s", describe(tok), key)
					reset()
				}
				if err := skipRest(dec, tok); err != nil {
					return err
				}
			case bad == nil:
				if err := add(s); err != nil {
					return err
				}
			}
		}
		if tok != nil {
			if err := expectDelim(dec, ']'); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the list")
		}
		return err
	}
	return bad
}

// skipValue reads one value, token by token.
func skipValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	return skipRest(dec, tok)
}

// skipRest reads the rest of the value that starts with tok: all of an
// object or array, nothing of a string, number or literal.
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	for {
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		if depth > maxListDepth {
			return fmt.Errorf("values nested more than %d deep", maxListDepth)
		}
		var err error
		if tok, err = dec.Token(); err == io.EOF {
			return io.ErrUnexpectedEOF
		} else if err != nil {
			return err
		}
	}
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%s where %q belongs", describe(tok), string(want))
	}
	return nil
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return fmt.Sprintf("the string %q", transport.Excerpt([]byte(t), 40))
	default:
		return transport.Excerpt([]byte(fmt.Sprint(t)), 40)
	}
}

// boundStrings passes JSON text through, but for each string longer than
// max bytes between its quotes, which becomes "\u0000", and fails on a
// number or literal longer than max: json.Decoder holds a token whole,
// and none it gets is longer than max. It adds a space after each value
// but objects and arrays, and does not otherwise check the syntax;
// json.Decoder does.
type boundStrings struct {
	r   io.Reader
	max int

	buf   [4 << 10]byte
	spare []byte // fill's output buffer, reused
	out   []byte // ready to be read
	str   []byte // the string being read, up to max bytes
	in    bool   // in a string
	esc   bool   // after a backslash in a string
	over  bool   // the string is longer than max
	run   int    // bytes of the number or literal being read
	err   error
}

var overLong = []byte(`"\u0000"`)

func (b *boundStrings) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.fill()
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

func (b *boundStrings) fill() {
	n, err := b.r.Read(b.buf[:])
	out := b.spare[:0] // what it held was read
	defer func() { b.spare = out[:0] }()
	for _, c := range b.buf[:n] {
		if b.in {
			switch {
			case b.esc:
				b.esc = false
			case c == '\\':
				b.esc = true
			case c == '"':
				b.in = false
				if b.over {
					out = append(out, overLong...)
				} else {
					out = append(out, '"')
					out = append(out, b.str...)
					out = append(out, '"')
				}
				// A space ends the value for json.Decoder, which otherwise
				// allocates a syntax error to find that "," ends it.
				out = append(out, ' ')
				continue
			}
			switch {
			case b.over:
			case len(b.str) == b.max:
				b.over, b.str = true, b.str[:0]
			default:
				b.str = append(b.str, c)
			}
			continue
		}
		switch c {
		case '"':
			b.in, b.esc, b.over, b.str, b.run = true, false, false, b.str[:0], 0
		case '{', '}', '[', ']', ',', ':', ' ', '\t', '\n', '\r':
			if b.run > 0 {
				out = append(out, ' ') // as after a string
			}
			b.run = 0
			out = append(out, c)
		default:
			b.run++
			if b.run > b.max {
				b.out, b.err = out, fmt.Errorf("a JSON value longer than %d bytes", b.max)
				return
			}
			out = append(out, c)
		}
	}
	if err != nil {
		if b.in && !b.over {
			// Unterminated: let the decoder see it so.
			out = append(out, '"')
			out = append(out, b.str...)
			b.in = false
		}
		b.err = err
	}
	b.out = out
}
