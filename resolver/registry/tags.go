package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/resolver/registry/transport"
)

// ListTags lists every tag of repository ("host/path"), following Link
// pagination.
func (c *Client) ListTags(ctx context.Context, repository string) ([]string, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, err
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	tags, _, err := c.listTags(callCtx, cl, repo, "")
	if err != nil {
		return nil, c.wrap(ctx, cl, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, nil
}

// ListTagsWithPrefix implements resolver.PrefixLister: the tags of
// repository that start with prefix, in as few pages as the registry
// allows (see listTags).
func (c *Client) ListTagsWithPrefix(ctx context.Context, repository, prefix string) ([]string, bool, error) {
	repo, err := c.parseRepository(repository)
	if err != nil {
		return nil, false, err
	}
	callCtx, cl, cancel := c.call(ctx, repo.RegistryStr())
	defer cancel()
	tags, all, err := c.listTags(callCtx, cl, repo, prefix)
	if err != nil {
		return nil, false, c.wrap(ctx, cl, opList, repo.RegistryStr(), repository, resolver.ErrRepositoryNotFound, err)
	}
	return tags, all, nil
}

// listTags lists repo's tags page by page. It follows a page's Link to
// the next page only on the registry's own host (a relative Link resolved
// against the registry's URL, even where a redirect served the page), and
// never to a page it has seen; other links end the listing, as they do in Oryx's client. It
// fails beyond maxPages pages, maxTags tags or maxListBytes bytes of
// tags. Each page is decoded as it arrives (tagList.page), so only the
// tags are kept, never the pages; a page that lists nothing ends the
// listing.
//
// With a prefix, the listing asks the registry to start just before the
// tags that have it (?last=, as the OCI distribution spec orders tags
// lexically) and stops past them, and only those tags are returned. A
// registry that does not honour last is listed in full, and then all the
// tags are returned, with all set.
func (c *Client) listTags(ctx context.Context, cl *transport.Call, repo name.Repository, prefix string) (tags []string, all bool, err error) {
	s := c.session(repo)
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
	l := &tagList{repo: repo.Name(), maxTags: c.o.maxTags, maxBytes: c.o.maxListBytes, pageBytes: c.o.maxPageBytes}
	seen := map[string]bool{}
	for u != nil {
		if len(seen) >= c.o.maxPages {
			return nil, false, &limitError{fmt.Sprintf("lists more than %d pages of tags", c.o.maxPages)}
		}
		seen[pageKey(u)] = true
		before, listed := len(l.tags), l.listed
		resp, err := l.page(ctx, cl, s, u) //nolint:bodyclose // page reads and closes the body; resp is for its headers
		var se *statusError
		if len(seen) == 1 && c.o.pageSize > fallbackPageSize && errors.As(err, &se) && se.code == http.StatusBadRequest {
			// A registry that refuses n this large (PAGINATION_NUMBER_INVALID)
			// gets the page size most registries take.
			q.Set("n", strconv.Itoa(fallbackPageSize))
			u.RawQuery = q.Encode()
			seen = map[string]bool{pageKey(u): true}
			resp, err = l.page(ctx, cl, s, u) //nolint:bodyclose // as above
		}
		if err != nil {
			return nil, false, err
		}
		tags := l.tags
		if last != "" && len(tags) > before {
			if tags[before] <= last {
				last, prefix = "", "" // the registry ignores last: list it all
				all = true
			} else if t := tags[len(tags)-1]; t > prefix && !strings.HasPrefix(t, prefix) {
				break // past the tags that have the prefix
			}
		}
		// Against the page asked of the registry, not where a redirect
		// took it: a relative Link is the registry's, an absolute one to
		// any other host ends the listing.
		next := nextLink(resp.Header.Values("Link"), u)
		asked := u
		u = nil
		if next != nil && strings.EqualFold(next.Host, repo.RegistryStr()) && l.listed > listed {
			// The registry's scheme: a Link cannot downgrade to plain HTTP.
			next.Scheme = asked.Scheme
			if !seen[pageKey(next)] {
				u = next
			}
		}
	}
	tags = l.tags
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

// tagList is a listing as it is read: the valid tags, and what the pages
// listed in all, valid or not, against the limits.
type tagList struct {
	repo      string
	maxTags   int
	maxBytes  int64
	pageBytes int64

	tags    []string
	listed  int   // tags listed, valid or not
	bytes   int64 // their length
	invalid int   // tags skipped as invalid
}

// page GETs one page of tags at u and adds its tags, decoding the page as
// it arrives (or from memory, when a redirect took the response elsewhere).
func (l *tagList) page(ctx context.Context, cl *transport.Call, s *session, u *url.URL) (*http.Response, error) {
	// Only counts: a copy of the slice would keep its backing array alive.
	n, listed, bytes, invalid := len(l.tags), l.listed, l.bytes, l.invalid
	restart := func() { l.tags, l.listed, l.bytes, l.invalid = l.tags[:n], listed, bytes, invalid }
	rd := &transport.BodyReader{Suffix: "/tags/list", Limit: l.pageBytes, Decode: func(r io.Reader) error {
		restart()
		err := decodeList(r, "tags", l.add, restart)
		var le *limitError
		if err != nil && !errors.As(err, &le) {
			err = &badResponse{what: "an invalid tag list", err: err, hint: "check that " + l.repo + " is served by an OCI registry"}
		}
		return err
	}}
	resp, err := s.get(ctx, cl.Reading(rd), u, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if !rd.Done {
		if err := rd.Decode(resp.Body); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// add adds one tag of a page: a valid one to the list, an invalid one to
// the count of those skipped. Both count against the limits.
func (l *tagList) add(tag string) error {
	l.listed++
	l.bytes += int64(len(tag))
	switch {
	case l.listed > l.maxTags:
		return &limitError{fmt.Sprintf("lists more than %d tags", l.maxTags)}
	case l.bytes > l.maxBytes:
		return &limitError{fmt.Sprintf("lists more than %s of tags", transport.Size(l.maxBytes))}
	case !validTag(tag):
		l.invalid++
		return nil
	}
	l.tags = append(l.tags, tag)
	return nil
}

// validTag reports whether tag follows the OCI distribution spec's
// grammar, [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		switch c := tag[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
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
