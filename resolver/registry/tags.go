package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// listTags lists repo's tags page by page. It follows a page's Link to
// the next page only on the registry's own host, and never to a page it
// has seen; other links end the listing, as they do in Oryx's client. It
// fails beyond maxPages pages or maxTags tags. Each page is decoded as it
// arrives, so only the tags are kept, never the pages; an empty page ends
// the listing.
//
// With a prefix, the listing asks the registry to start just before the
// tags that have it (?last=, as the OCI distribution spec orders tags
// lexically) and stops past them, and only those tags are returned. A
// registry that does not honour last is listed in full, and then all the
// tags are returned, with all set.
func (c *Client) listTags(ctx context.Context, repo name.Repository, prefix string) (tags []string, all bool, err error) {
	s, err := c.session(ctx, repo)
	if err != nil {
		return nil, false, err
	}
	u := &url.URL{
		Scheme: repo.Scheme(),
		Host:   repo.RegistryStr(),
		Path:   "/v2/" + repo.RepositoryStr() + "/tags/list",
	}
	q := url.Values{}
	if c.o.pageSize > 0 {
		q.Set("n", strconv.Itoa(c.o.pageSize))
	}
	last := lastBefore(prefix)
	if last != "" {
		q.Set("last", last)
	}
	u.RawQuery = q.Encode()
	seen := map[string]bool{}
	for u != nil {
		if len(seen) >= c.o.maxPages {
			return nil, false, &limitError{fmt.Sprintf("lists more than %d pages of tags", c.o.maxPages)}
		}
		seen[pageKey(u)] = true
		resp, err := s.get(ctx, u, "application/json")
		var se *statusError
		if len(seen) == 1 && c.o.pageSize > fallbackPageSize && errors.As(err, &se) && se.code == http.StatusBadRequest {
			// A registry that refuses n this large (PAGINATION_NUMBER_INVALID)
			// gets the page size most registries take.
			q.Set("n", strconv.Itoa(fallbackPageSize))
			u.RawQuery = q.Encode()
			seen = map[string]bool{pageKey(u): true}
			resp, err = s.get(ctx, u, "application/json")
		}
		if err != nil {
			return nil, false, err
		}
		body, err := bodyBytes(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, false, err
		}
		before := len(tags)
		tags, err = decodeTags(body, tags, c.o.maxTags)
		if err != nil {
			var le *limitError
			if errors.As(err, &le) {
				return nil, false, err
			}
			return nil, false, &badResponse{what: "an invalid tag list", err: err,
				hint: "check that " + repo.Name() + " is served by an OCI registry"}
		}
		if last != "" && len(tags) > before {
			if tags[before] <= last {
				last, prefix = "", "" // the registry ignores last: list it all
				all = true
			} else if t := tags[len(tags)-1]; t > prefix && !strings.HasPrefix(t, prefix) {
				break // past the tags that have the prefix
			}
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
	if prefix != "" {
		kept := tags[:0]
		for _, t := range tags {
			if strings.HasPrefix(t, prefix) {
				kept = append(kept, t)
			}
		}
		tags = kept
	}
	return tags, all, nil
}

// lastBefore is a value of ?last= just before every tag that has prefix:
// its last byte one lower, then '~', which sorts after every character a
// tag may hold ("bookworm-1.23" -> "bookworm-1.22~"); "" for no prefix.
func lastBefore(prefix string) string {
	if prefix == "" {
		return ""
	}
	b := []byte(prefix)
	b[len(b)-1]--
	return string(b) + "~"
}

// pageKey identifies a page whatever the scheme: ggcr may switch a
// loopback registry's to https.
func pageKey(u *url.URL) string {
	k := *u
	k.Scheme, k.Fragment, k.RawFragment = "", "", ""
	return k.String()
}

// decodeTags decodes a tags/list response, {"name": "…", "tags": […]},
// appending its tags to tags. A "tags" of null is no tags, a null tag is
// "", and of two "tags" the last counts, as with encoding/json; anything
// but an object whose "tags" is an array of strings is an error, as is
// more than max tags in all. A body too short to hold more tags than max
// allows is decoded in one go; a longer one tag by tag, so that the limit
// stops it before it takes more memory than max tags.
func decodeTags(body []byte, tags []string, max int) ([]string, error) {
	if int64(len(body))/3 < int64(max-len(tags)) { // a tag takes at least 3 bytes: "",
		return decodeTagsAll(body, tags, max)
	}
	return decodeTagsStream(bytes.NewReader(body), tags, max)
}

// decodeTagsAll is decodeTags with encoding/json in one go.
func decodeTagsAll(body []byte, tags []string, max int) ([]string, error) {
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return tags, errors.New("the tag list is not a JSON object")
	}
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return tags, err
	}
	var list []string
	if raw, ok := page["tags"]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return tags, err
		}
	}
	if len(tags)+len(list) > max {
		return tags, &limitError{fmt.Sprintf("lists more than %d tags", max)}
	}
	return append(tags, list...), nil
}

// decodeTagsStream is decodeTags token by token.
func decodeTagsStream(r io.Reader, tags []string, max int) ([]string, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return tags, err
	}
	start := len(tags)
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
		tags = tags[:start] // the last "tags" counts
		tok, err = dec.Token()
		if err != nil {
			return tags, err
		}
		if tok == nil {
			continue // null
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return tags, fmt.Errorf("cannot unmarshal %s into the tags", describe(tok))
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return tags, err
			}
			tag, ok := tok.(string)
			if !ok && tok != nil {
				return tags, fmt.Errorf("cannot unmarshal %s into a tag", describe(tok))
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
