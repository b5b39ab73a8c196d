package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// listTags lists repo's tags page by page. It follows a page's Link to
// the next page only on the registry's own host, and never to a page it
// has seen; other links end the listing, as they do in Oryx's client. It
// fails beyond maxPages pages or maxTags tags. Each page is decoded as it
// arrives, so only the tags are kept, never the pages.
func (c *Client) listTags(ctx context.Context, repo name.Repository) ([]string, error) {
	s, err := c.session(ctx, repo)
	if err != nil {
		return nil, err
	}
	u := &url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   "/v2/" + repo.RepositoryStr() + "/tags/list",
	}
	if c.o.pageSize > 0 {
		u.RawQuery = "n=" + strconv.Itoa(c.o.pageSize)
	}
	var tags []string
	seen := map[string]bool{}
	for u != nil {
		if len(seen) >= c.o.maxPages {
			return nil, &limitError{fmt.Sprintf("lists more than %d pages of tags", c.o.maxPages)}
		}
		seen[pageKey(u)] = true
		resp, err := s.get(ctx, u, "application/json")
		if err != nil {
			return nil, err
		}
		before := len(tags)
		tags, err = decodeTags(resp.Body, tags, c.o.maxTags)
		if err != nil {
			var le *limitError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, &badResponse{what: "an invalid tag list", err: err,
				hint: "check that " + repo.Name() + " is served by an OCI registry"}
		}
		next := nextLink(resp.Header.Values("Link"), resp.Request.URL)
		u = nil
		if next != nil && strings.EqualFold(next.Host, resp.Request.URL.Host) && len(tags) > before {
			// The current scheme: a Link cannot downgrade to plain HTTP.
			next.Scheme = resp.Request.URL.Scheme
			if !seen[pageKey(next)] {
				u = next
			}
		}
	}
	return tags, nil
}

// pageKey identifies a page whatever the scheme: ggcr may switch a
// loopback registry's to https.
func pageKey(u *url.URL) string {
	k := *u
	k.Scheme, k.Fragment, k.RawFragment = "", "", ""
	return k.String()
}

// decodeTags decodes a tags/list response, {"name": "…", "tags": […]},
// appending its tags to tags as it reads them. A "tags" of null is no
// tags; anything but an object with at most one "tags", an array of
// strings, is an error, as is more than max tags in all.
func decodeTags(r io.Reader, tags []string, max int) ([]string, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return tags, err
	}
	seenTags := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return tags, err
		}
		key, _ := tok.(string)
		if key != "tags" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return tags, err
			}
			continue
		}
		if seenTags {
			return tags, errors.New(`"tags" appears twice`)
		}
		seenTags = true
		tok, err = dec.Token()
		if err != nil {
			return tags, err
		}
		if tok == nil {
			continue // null
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return tags, fmt.Errorf(`"tags" is %s, not an array`, describe(tok))
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return tags, err
			}
			tag, ok := tok.(string)
			if !ok {
				return tags, fmt.Errorf("a tag is %s, not a string", describe(tok))
			}
			if len(tags) >= max {
				return tags, &limitError{fmt.Sprintf("lists more than %d tags", max)}
			}
			tags = append(tags, tag)
		}
		if err := expectDelim(dec, ']'); err != nil {
			return tags, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return tags, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the tag list")
		}
		return tags, err
	}
	return tags, nil
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
		return fmt.Sprintf("the string %q", snippet([]byte(t), 40))
	default:
		return fmt.Sprintf("%v", t)
	}
}
