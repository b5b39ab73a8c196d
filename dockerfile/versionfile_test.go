package dockerfile

import (
	"strings"
	"testing"
)

func TestVersionFileConstraints(t *testing.T) {
	cases := []struct {
		file, platform, data, want string
	}{
		{".python-version", "python", "3.11.9\n", "3.11.9"},
		{".python-version", "python", "# pyenv\n3.12\n3.11\n", "3.12"},
		{".nvmrc", "nodejs", "v20.11.1\n", "20.11.1"},
		{".nvmrc", "nodejs", "20", "20"},
		{".node-version", "nodejs", "18.20.4\n", "18.20.4"},
		{".ruby-version", "ruby", "ruby-3.3.0\n", "3.3.0"},
		{".tool-versions", "nodejs", "python 3.11.9\nnodejs 20.11.1 # web\n", "20.11.1"},
		{".tool-versions", "golang", "golang 1.23.4\n", "1.23.4"},
		{".tool-versions", "golang", "go 1.23.4\n", "1.23.4"},
		{"package.json", "nodejs", `{"engines": {"node": "^20.11 || >=22"}}`, "^20.11 || >=22"},
		{"web/package.json", "nodejs", `{"engines": {"node": "20.x"}}`, "20.x"},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404"}}`, ">=8.0.404 <8.0.500"},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404", "rollForward": "latestFeature"}}`, ">=8.0.404 <8.1.0"},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404", "rollForward": "minor"}}`, ">=8.0.404 <9.0.0"},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404", "rollForward": "latestMajor"}}`, ">=8.0.404"},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404", "rollForward": "disable"}}`, "8.0.404"},
		{"go.mod", "golang", "module x\ngo 1.22.3\n", "1.22.3"},
		{"go.mod", "golang", "module x\ngo 1.22\n", "1.22"},
		{"go.mod", "golang", "module x\ngo 1.22\ntoolchain go1.23.4\n", "1.23.4"},
	}
	for _, c := range cases {
		vf, err := ParseVersionFile(c.file)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		got, err := vf.Constraint(c.platform, []byte(c.data))
		if err != nil || got != c.want {
			t.Errorf("%s %q: %q, %v; want %q", c.file, c.data, got, err, c.want)
		}
	}
}

func TestVersionFileErrors(t *testing.T) {
	cases := []struct {
		file, platform, data, want string
	}{
		{".python-version", "python", "", ".python-version: expected a version on the first line"},
		{".nvmrc", "nodejs", "lts/iron\n", "aliases"},
		{".nvmrc", "nodejs", "node\n", "expected a version"},
		{".tool-versions", "ruby", "python 3\n", `.tool-versions: expected a line "ruby <version>"`},
		{"package.json", "nodejs", `{"engines": {}}`, "engines"},
		{"package.json", "nodejs", `{"engines": {"node": "lts"}}`, `"lts" is not a version or range`},
		{"global.json", "dotnet", `{"sdk": {}}`, `expected "sdk": {"version": "8.0.404"}`},
		{"global.json", "dotnet", `{"sdk": {"version": "8.0.404", "rollForward": "sideways"}}`, "unknown rollForward"},
		{"go.mod", "golang", "module x\n", "expected a go or toolchain directive"},
	}
	for _, c := range cases {
		vf, err := ParseVersionFile(c.file)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if _, err := vf.Constraint(c.platform, []byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want %q", c.file, c.data, err, c.want)
		}
	}
	for _, bad := range []string{"", "/etc/passwd", "../x/.nvmrc", "a/../../.nvmrc", "notes.txt"} {
		if _, err := ParseVersionFile(bad); err == nil {
			t.Errorf("file:%s accepted", bad)
		}
	}
	if vf, err := ParseVersionFile("web:sub/.nvmrc"); err != nil || vf.Context != "web" || vf.Path != "sub/.nvmrc" {
		t.Errorf("named context: %+v, %v", vf, err)
	}
}
