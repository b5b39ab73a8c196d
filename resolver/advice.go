package resolver

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Advice: what an SDK user can do about a registry failure, which only the
// resolver knows (exact versions resolve without listing; build args
// configure registries). A registry client reports the failure in registry
// terms (RegistryError); the resolver adds this advice where it wraps the
// client's errors.

// Settings the advice names.
const (
	insecureSetting = "SDK_INSECURE_REGISTRIES"
	realmsSetting   = "SDK_AUTH_REALMS"
)

// Advise returns err with the advice for the RegistryError it is, if any
// applies; otherwise err as it is. The resolver advises the errors of its
// Registry; code that calls a registry client itself (sdkfront lock's
// extension of a locked SDK to a new platform) advises its own.
func Advise(err error) error {
	var re *RegistryError
	if !errors.As(err, &re) {
		return err
	}
	adv := advice(re)
	if adv == "" {
		return err
	}
	if err != error(re) {
		return fmt.Errorf("%w; %s", err, adv)
	}
	return &advisedError{re: re, advice: adv}
}

// advisedError is a RegistryError whose advice replaces its registry
// hint.
type advisedError struct {
	re     *RegistryError
	advice string
}

func (e *advisedError) Error() string {
	s := e.re.Msg
	if e.re.Err != nil {
		s += ": " + e.re.Err.Error()
	}
	return s + "; " + e.advice
}

func (e *advisedError) Unwrap() error { return e.re }

// advice is what an SDK user can do about e, or "" where the registry's
// hint says it all.
func advice(e *RegistryError) string {
	listing := e.Op == OpListTags
	ex := example(e.Subject)
	switch {
	case e.Cause == CauseListLimit:
		return "use an exact version, such as " + ex + ", which resolves without listing tags"
	case e.Cause == CauseNoListing:
		return "version ranges, partial versions, latest and the default without a default tag need the registry to list tags, and it lists none for this repository (or the repository does not exist); use an exact version such as " + ex + ", which resolves without listing"
	case e.Cause == CausePlainHTTP:
		return "if the registry is plain HTTP, configure it as insecure (build arg " + insecureSetting + ")"
	case e.Cause == CauseCredentialsWithheld:
		return fmt.Sprintf("sdkfront did not send your credentials for %s to the token service it names, %s, as that is on another host; if you trust it with them, name its host in %s", e.Registry, e.Realm, realmsSetting)
	case listing && errors.Is(e.Kind, ErrDenied) && e.Anonymous:
		return "sdkfront lists tags anonymously, so it needs the tag list to be public; or use an exact version, such as " + ex + ", which BuildKit resolves with your registry credentials"
	case listing && errors.Is(e.Kind, ErrDenied):
		return "check the credentials for " + e.Registry + "; or use an exact version, such as " + ex + ", which resolves without listing tags"
	}
	return ""
}

// example is an exact-version reference for the repository of subject, for
// advice: "golang@1.23.4" for "host/sdks/golang" and for
// ".../oryx/golang-sdk", "python@3.11.9" for ".../python-sdk".
func example(subject string) string {
	repo, _, _ := strings.Cut(subject, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	p := strings.TrimSuffix(path.Base(repo), "-sdk")
	if p == "" || p == "." || p == "/" {
		p = "golang"
	}
	v, ok := exampleVersions[p]
	if !ok {
		v = "1.2.3"
	}
	return p + "@" + v
}

var exampleVersions = map[string]string{
	"golang": "1.23.4", "go": "1.23.4", "python": "3.11.9", "nodejs": "20.11.1", "node": "20.11.1",
	"dotnet": "8.0.404", "ruby": "3.3.1", "java": "21.0.5", "php": "8.3.11",
}
