package resolver

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// pep440Pre matches a PEP 440 style prerelease glued to the release, as
// Python tags them: "3.13.0rc2", "3.13.0b1", "3.13.0a1".
var pep440Pre = regexp.MustCompile(`^(\d+(?:\.\d+){0,2})(a|b|rc|alpha|beta|dev|pre)\.?(\d*)$`)

// ParseVersion parses the version part of a tag leniently:
//
//   - a leading "v" is dropped ("v1.2.3");
//   - everything from the first "_" is dropped, as .NET tags carry the
//     runtime version there ("8.0.404_8.0.11" is SDK 8.0.404);
//   - a glued prerelease becomes a semver prerelease ("3.13.0rc2" is
//     3.13.0-rc2);
//   - missing components are zero ("1.23" is 1.23.0).
func ParseVersion(tagVersion string) (*semver.Version, error) {
	s := strings.TrimPrefix(tagVersion, "v")
	s, _, _ = strings.Cut(s, "_")
	if m := pep440Pre.FindStringSubmatch(s); m != nil {
		s = m[1] + "-" + m[2] + m[3]
	}
	v, err := semver.NewVersion(s)
	if err != nil {
		return nil, fmt.Errorf("invalid SDK version %q: %w", tagVersion, err)
	}
	return v, nil
}

// exactVersion matches versions that name one release: three or more
// numeric components, optionally followed by a tag-safe suffix
// ("1.23.4", "8.0.404_8.0.11", "3.13.0rc2", "1.2.3-rc.1"), or a shorter
// version with a glued prerelease, as Go tagged them ("1.24rc1").
var exactVersion = regexp.MustCompile(`^v?(\d+\.\d+\.\d+|\d+(\.\d+)*[A-Za-z])[0-9A-Za-z._-]*$`)

// partialVersion matches "3" and "3.11": the newest release in that line.
var partialVersion = regexp.MustCompile(`^v?\d+(\.\d+)?$`)

// firstVersion finds the first version-looking run in a range ("~3.11").
var firstVersion = regexp.MustCompile(`\d+(\.\d+){0,2}`)
