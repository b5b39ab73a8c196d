package resolver

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// DefaultSourceTemplate is where SDKs come from unless configured otherwise:
// Oryx's images on MCR.
const DefaultSourceTemplate = "mcr.microsoft.com/oryx/{platform}-sdk:{flavor}-{version}"

// DefaultSource is the parsed DefaultSourceTemplate. A zero Source in a
// Request means DefaultSource.
var DefaultSource = MustParseSource(DefaultSourceTemplate)

// Placeholders of a source template.
const (
	phPlatform = "{platform}"
	phFlavor   = "{flavor}"
	phVersion  = "{version}"
)

// Source maps SDK platforms, flavors and versions to repositories and tags,
// following a template such as "127.0.0.1:5000/sdks/{platform}:{flavor}-{version}".
// {platform} may appear only in the repository part, {flavor} and {version}
// only in the tag part.
type Source struct {
	template string
	repo     string         // repository template
	tag      string         // tag template
	match    *regexp.Regexp // tag -> flavor, version
	flavored bool           // the tag part has {flavor}
}

// ParseSource parses and validates a source template.
func ParseSource(template string) (Source, error) {
	fail := func(format string, args ...any) (Source, error) {
		return Source{}, fmt.Errorf("%w %q: %s", ErrInvalidSource, template, fmt.Sprintf(format, args...))
	}
	// An allow-list first: a template names a repository and a tag, and
	// nothing else may reach a reference made from it.
	for _, c := range template {
		if !sourceChar(c) {
			return fail("character %s is not allowed in a source template (allowed: letters, digits, . _ - / : and the placeholders {platform} {flavor} {version})", quoteRune(c))
		}
	}
	if len(template) > maxSourceLen {
		return fail("longer than %d characters", maxSourceLen)
	}
	// The tag follows the last ':' after the last '/'; an earlier ':' is a port.
	i := strings.LastIndex(template, ":")
	if i < 0 || i < strings.LastIndex(template, "/") {
		return fail("missing the tag part, e.g. \":{flavor}-{version}\"")
	}
	repo, tag := template[:i], template[i+1:]

	if n := strings.Count(repo, phPlatform); n != 1 {
		return fail("the repository part must contain %s exactly once", phPlatform)
	}
	if strings.Contains(repo, phFlavor) || strings.Contains(repo, phVersion) {
		return fail("%s and %s may appear only in the tag part", phFlavor, phVersion)
	}
	if _, err := reference.ParseNormalizedNamed(strings.ReplaceAll(repo, phPlatform, "x")); err != nil {
		return fail("invalid repository %q: %v", repo, err)
	}

	if strings.Contains(tag, phPlatform) {
		return fail("%s may appear only in the repository part", phPlatform)
	}
	if strings.Count(tag, phFlavor) > 1 || strings.Count(tag, phVersion) != 1 {
		return fail("the tag part must contain %s exactly once and %s at most once", phVersion, phFlavor)
	}
	if strings.Contains(tag, phFlavor+phVersion) || strings.Contains(tag, phVersion+phFlavor) {
		return fail("%s and %s must be separated", phFlavor, phVersion)
	}
	literal := strings.NewReplacer(phFlavor, "", phVersion, "").Replace(tag)
	if strings.ContainsAny(literal, "{}") || !tagChars.MatchString(literal) {
		return fail("the tag part %q has characters not allowed in a tag or unknown placeholders", tag)
	}

	// Flavors never contain '-', so "{flavor}-{version}" splits at the
	// first '-' and versions may contain '-'. The flavor is the shortest
	// match, so that other separators split at their first occurrence too:
	// "{flavor}.{version}" reads "bookworm.3.11.9" as bookworm and 3.11.9.
	pattern := regexp.QuoteMeta(tag)
	pattern = strings.Replace(pattern, regexp.QuoteMeta(phFlavor), `(?P<flavor>[^-]+?)`, 1)
	pattern = strings.Replace(pattern, regexp.QuoteMeta(phVersion), `(?P<version>.+)`, 1)
	return Source{
		template: template,
		repo:     repo,
		tag:      tag,
		match:    regexp.MustCompile("^" + pattern + "$"),
		flavored: strings.Contains(tag, phFlavor),
	}, nil
}

var tagChars = regexp.MustCompile(`^[\w.-]*$`)

// maxSourceLen bounds a template: a repository name (255) and a tag (128).
const maxSourceLen = 255 + 1 + 128

// sourceChar is the allow-list of a source template's characters.
func sourceChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:{}", c)
}

// quoteRune shows a character as printable ASCII: 'a', '\x0a', '\u2028'.
func quoteRune(c rune) string {
	switch {
	case c >= 0x20 && c < 0x7f && c != '\'':
		return "'" + string(c) + "'"
	case c < 0x100:
		return fmt.Sprintf("'\\x%02x'", c)
	default:
		return fmt.Sprintf("'\\u%04x'", c)
	}
}

// MustParseSource is ParseSource for templates known to be valid.
func MustParseSource(template string) Source {
	s, err := ParseSource(template)
	if err != nil {
		panic(err)
	}
	return s
}

// repositorySource is the source of a reference naming a full repository.
func repositorySource(repo string) Source {
	s := MustParseSource(phPlatform + ":" + phFlavor + "-" + phVersion)
	s.template, s.repo = repo+":"+s.tag, repo
	return s
}

// IsZero reports whether s is the zero Source, which stands for DefaultSource.
func (s Source) IsZero() bool { return s.match == nil }

func (s Source) orDefault() Source {
	if s.IsZero() {
		return DefaultSource
	}
	return s
}

// String returns the template.
func (s Source) String() string { return s.orDefault().template }

// Repository returns the repository of an SDK platform.
func (s Source) Repository(platform string) string {
	s = s.orDefault()
	return strings.ReplaceAll(s.repo, phPlatform, platform)
}

// Tag returns the tag of one version of a flavor.
func (s Source) Tag(flavor, version string) string {
	s = s.orDefault()
	return strings.NewReplacer(phFlavor, flavor, phVersion, version).Replace(s.tag)
}

// MatchTag splits a tag into flavor and version; ok is false if the tag does
// not follow the template. Without {flavor} in the template, flavor is "".
func (s Source) MatchTag(tag string) (flavor, version string, ok bool) {
	s = s.orDefault()
	m := s.match.FindStringSubmatch(tag)
	if m == nil {
		return "", "", false
	}
	if i := s.match.SubexpIndex("flavor"); i > 0 {
		flavor = m[i]
	}
	return flavor, m[s.match.SubexpIndex("version")], true
}

// MatchRepository gives the SDK platform of a repository that follows the
// template ("127.0.0.1:5000/sdks/golang" -> "golang"); ok is false if it
// does not.
func (s Source) MatchRepository(repo string) (platform string, ok bool) {
	s = s.orDefault()
	before, after, _ := strings.Cut(s.repo, phPlatform)
	p, ok := strings.CutPrefix(repo, before)
	if !ok {
		return "", false
	}
	if p, ok = strings.CutSuffix(p, after); !ok || p == "" || strings.Contains(p, "/") {
		return "", false
	}
	return p, true
}

// TagPrefix is what every tag of a flavor's versions starting with
// versionPrefix starts with ("bookworm-1.23" for "{flavor}-{version}",
// bookworm and 1.23): the tag template up to {version}, then
// versionPrefix. It is "" when the template starts with {version} and
// versionPrefix is "".
func (s Source) TagPrefix(flavor, versionPrefix string) string {
	s = s.orDefault()
	head, _, _ := strings.Cut(s.tag, phVersion)
	return strings.ReplaceAll(head, phFlavor, flavor) + versionPrefix
}
