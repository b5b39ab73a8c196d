package resolver

import (
	"errors"
	"strings"
	"testing"
)

// The advice a registry failure gets, by what the registry client says of
// it: the wording an SDK user sees, which the registry client does not
// know.
func TestAdvice(t *testing.T) {
	const reg, repo = "reg.test:5000", "reg.test:5000/sdks/golang"
	base := func(op RegistryOp, kind error, cause RegistryCause) *RegistryError {
		return &RegistryError{Op: op, Registry: reg, Subject: repo, Kind: kind, Cause: cause,
			Msg: "cannot " + string(op) + " " + repo + ": it failed", Err: errors.New("HTTP 4xx"), Hint: "the registry's hint"}
	}
	anonymous := func(e *RegistryError) *RegistryError { e.Anonymous = true; return e }
	withRealm := func(e *RegistryError) *RegistryError { e.Realm = "https://auth.other.test/token"; return e }
	for _, tc := range []struct {
		name string
		err  *RegistryError
		want string // the whole message; "" for none but the registry's
	}{
		{"listing limit", base(OpListTags, nil, CauseListLimit),
			"cannot list tags of " + repo + ": it failed: HTTP 4xx; use an exact version, such as golang@1.23.4, which resolves without listing tags"},
		{"no listing", base(OpListTags, nil, CauseNoListing),
			"cannot list tags of " + repo + ": it failed: HTTP 4xx; version ranges, partial versions, latest and the default without a default tag need the registry to list tags, and it lists none for this repository (or the repository does not exist); use an exact version such as golang@1.23.4, which resolves without listing"},
		{"plain HTTP", base(OpManifest, ErrUnreachable, CausePlainHTTP),
			"cannot get manifest of " + repo + ": it failed: HTTP 4xx; if the registry is plain HTTP, configure it as insecure (build arg SDK_INSECURE_REGISTRIES)"},
		{"credentials withheld", withRealm(base(OpListTags, ErrDenied, CauseCredentialsWithheld)),
			"cannot list tags of " + repo + ": it failed: HTTP 4xx; sdkfront did not send your credentials for reg.test:5000 to the token service it names, https://auth.other.test/token, as that is on another host; if you trust it with them, name its host in SDK_AUTH_REALMS"},
		{"listing denied, anonymous", anonymous(base(OpListTags, ErrDenied, CauseNone)),
			"cannot list tags of " + repo + ": it failed: HTTP 4xx; sdkfront lists tags anonymously, so it needs the tag list to be public; or use an exact version, such as golang@1.23.4, which BuildKit resolves with your registry credentials"},
		{"listing denied, with credentials", base(OpListTags, ErrDenied, CauseNone),
			"cannot list tags of " + repo + ": it failed: HTTP 4xx; check the credentials for reg.test:5000; or use an exact version, such as golang@1.23.4, which resolves without listing tags"},
		{"manifest denied", anonymous(base(OpManifest, ErrDenied, CauseNone)), ""},
		{"not found", base(OpManifest, ErrNotFound, CauseNone), ""},
		{"unreachable", base(OpListTags, ErrUnreachable, CauseNone), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Advise(tc.err)
			want := tc.want
			if want == "" {
				want = tc.err.Error()
			}
			if got.Error() != want {
				t.Errorf("advised:\n%s\nwant:\n%s", got, want)
			}
			var re *RegistryError
			if !errors.As(got, &re) || re != tc.err || (tc.err.Kind != nil && !errors.Is(got, tc.err.Kind)) {
				t.Errorf("the advised error does not wrap the registry's")
			}
			// As the resolver shows it: wrapped in a ListError.
			le := &ListError{Repository: repo, Ref: "golang@^1", Err: got}
			if !strings.HasSuffix(le.Error(), ": "+want) {
				t.Errorf("ListError %q does not end with the advised error", le)
			}
			// Wrapped before the resolver sees it, the advice comes last.
			wrapped := Advise(errors.Join(tc.err))
			if tc.want != "" && !strings.HasSuffix(wrapped.Error(), "; "+want[strings.LastIndex(want, "HTTP 4xx; ")+len("HTTP 4xx; "):]) {
				t.Errorf("wrapped, advised %q", wrapped)
			}
		})
	}
	if err := errors.New("not a registry's"); Advise(err) != err {
		t.Error("advised an error that is not a RegistryError")
	}
}

func TestExample(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000/sdks/golang":               "golang@1.23.4",
		"mcr.microsoft.com/oryx/python-sdk":        "python@3.11.9",
		"127.0.0.1:5000/sdks/golang:bookworm-1.23": "golang@1.23.4",
		"reg/sdks/dotnet@sha256:abc":               "dotnet@8.0.404",
		"reg/sdks/zig":                             "zig@1.2.3",
	} {
		if got := example(in); got != want {
			t.Errorf("example(%q) = %q, want %q", in, got, want)
		}
	}
}
