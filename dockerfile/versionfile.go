package dockerfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/sdkfront/sdkfront/resolver"
)

// VersionFile is the "file:[<context>:]<path>" constraint of an SDK
// reference: the version is read from a project file, such as
// .python-version or go.mod, in the build context or a named one.
type VersionFile struct {
	Context string // a named context; "" for the build context
	Path    string // relative to the context's root
}

func (v VersionFile) String() string {
	if v.Context != "" {
		return v.Context + ":" + v.Path
	}
	return v.Path
}

// ParseVersionFile parses what follows "file:".
func ParseVersionFile(s string) (VersionFile, error) {
	var v VersionFile
	v.Path = s
	if ctx, p, ok := strings.Cut(s, ":"); ok {
		v.Context, v.Path = ctx, p
	}
	clean := path.Clean("/" + v.Path)
	switch {
	case v.Path == "" || clean == "/":
		return v, fmt.Errorf("file: needs the path of a version file, e.g. python@file:.python-version")
	case strings.HasPrefix(v.Path, "/"), strings.HasPrefix(v.Path, "../"), v.Path == "..", strings.Contains(v.Path, "/../"):
		return v, fmt.Errorf("file:%s must be a path inside the context, without leading / or ..", s) //nolint:staticcheck // ST1005: ".." is a path, not punctuation
	}
	v.Path = strings.TrimPrefix(clean, "/")
	if !knownVersionFile(path.Base(v.Path)) {
		return v, fmt.Errorf("file:%s: sdkfront reads versions from %s", s, strings.Join(versionFileNames, ", "))
	}
	return v, nil
}

var versionFileNames = []string{".python-version", ".nvmrc", ".node-version", ".ruby-version", ".tool-versions",
	"package.json", "global.json", "go.mod"}

func knownVersionFile(name string) bool {
	for _, n := range versionFileNames {
		if n == name {
			return true
		}
	}
	return false
}

// toolNames are the names asdf's .tool-versions gives an SDK platform.
var toolNames = map[string][]string{
	"golang": {"golang", "go"},
	"nodejs": {"nodejs", "node"},
	"dotnet": {"dotnet", "dotnet-core"},
	"python": {"python"},
	"ruby":   {"ruby"},
	"java":   {"java"},
	"php":    {"php"},
}

// Constraint reads the version constraint a version file gives the SDK
// platform: an exact version, a partial one or a semver range. The error
// names the file and what was expected.
func (v VersionFile) Constraint(platform string, data []byte) (string, error) {
	c, err := v.constraint(platform, data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", v, err)
	}
	if _, err := resolver.ParseConstraint(c); err != nil {
		return "", fmt.Errorf("%s: %q is not a version or range sdkfront understands", v, c)
	}
	return c, nil
}

func (v VersionFile) constraint(platform string, data []byte) (string, error) {
	switch name := path.Base(v.Path); name {
	case ".python-version", ".node-version", ".nvmrc", ".ruby-version":
		line := firstLine(data)
		if line == "" {
			return "", fmt.Errorf("expected a version on the first line, found none")
		}
		line = strings.TrimPrefix(strings.TrimPrefix(line, "ruby-"), "v")
		if strings.ContainsAny(line, "/*") || !startsWithDigit(line) {
			return "", fmt.Errorf("expected a version such as 20.11.1 on the first line, got %q (aliases such as lts/* are not supported)", line)
		}
		return line, nil
	case ".tool-versions":
		names := toolNames[platform]
		if names == nil {
			names = []string{platform}
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			f := strings.Fields(stripComment(s.Text()))
			if len(f) >= 2 && contains(names, f[0]) {
				return strings.TrimPrefix(f[1], "v"), nil
			}
		}
		return "", fmt.Errorf("expected a line %q", names[0]+" <version>")
	case "package.json":
		var p struct {
			Engines map[string]string `json:"engines"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return "", fmt.Errorf("not valid JSON: %w", err)
		}
		r := strings.TrimSpace(p.Engines["node"])
		if r == "" {
			return "", fmt.Errorf(`expected "engines": {"node": "<range>"}`)
		}
		return r, nil
	case "global.json":
		return globalJSON(data)
	case "go.mod":
		return goMod(data)
	}
	return "", fmt.Errorf("not a version file sdkfront reads")
}

var goDirective = regexp.MustCompile(`^(go|toolchain)\s+(\S+)`)

// goMod gives the toolchain directive's version, else the go directive's:
// "go 1.23.4" pins 1.23.4, "go 1.23" the newest 1.23.x.
func goMod(data []byte) (string, error) {
	var goV, toolchain string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		m := goDirective.FindStringSubmatch(strings.TrimSpace(stripSlashComment(s.Text())))
		switch {
		case m == nil:
		case m[1] == "go":
			goV = m[2]
		case m[1] == "toolchain":
			toolchain = strings.TrimPrefix(m[2], "go")
		}
	}
	switch {
	case toolchain != "" && toolchain != "default":
		return toolchain, nil
	case goV != "":
		return goV, nil
	}
	return "", fmt.Errorf("expected a go or toolchain directive")
}

// globalJSON gives the range .NET's own roll-forward policy allows from
// sdk.version (https://learn.microsoft.com/dotnet/core/tools/global-json);
// sdkfront then picks the newest version in it, as the latest* policies do.
func globalJSON(data []byte) (string, error) {
	var g struct {
		SDK struct {
			Version     string `json:"version"`
			RollForward string `json:"rollForward"`
		} `json:"sdk"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return "", fmt.Errorf("not valid JSON: %w", err)
	}
	v := g.SDK.Version
	var major, minor, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch); err != nil || v == "" {
		return "", fmt.Errorf(`expected "sdk": {"version": "8.0.404"}, got version %q`, v)
	}
	band := patch / 100 * 100
	switch strings.ToLower(g.SDK.RollForward) {
	case "disable":
		return v, nil
	case "", "patch", "latestpatch":
		return fmt.Sprintf(">=%s <%d.%d.%d", v, major, minor, band+100), nil
	case "feature", "latestfeature":
		return fmt.Sprintf(">=%s <%d.%d.0", v, major, minor+1), nil
	case "minor", "latestminor":
		return fmt.Sprintf(">=%s <%d.0.0", v, major+1), nil
	case "major", "latestmajor":
		return ">=" + v, nil
	}
	return "", fmt.Errorf("unknown rollForward %q (want patch, feature, minor, major, their latest* forms, or disable)", g.SDK.RollForward)
}

func firstLine(data []byte) string {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		if l := strings.TrimSpace(stripComment(s.Text())); l != "" {
			return strings.Fields(l)[0]
		}
	}
	return ""
}

func stripComment(s string) string {
	s, _, _ = strings.Cut(s, "#")
	return s
}

func stripSlashComment(s string) string {
	s, _, _ = strings.Cut(s, "//")
	return s
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
