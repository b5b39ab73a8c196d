package frontend

import (
	"context"
	"strings"
	"testing"
)

func TestVersionFromProjectFile(t *testing.T) {
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@file:go.mod\nRUN --mount=type=sdk,ref=nodejs@file:web/package.json,target=/n true\n"
	s, tags := sdkStub(df)
	s.context = map[string]string{
		"go.mod":           "module x\n\ngo 1.22\n\ntoolchain go1.23.2 // pinned\n",
		"web/package.json": `{"name": "web", "engines": {"node": ">=18 <20.12"}}`,
	}
	s.addSDK("reg.test/sdks/golang:bookworm-1.23.2", 1, nil)
	s.addSDK("reg.test/sdks/nodejs:bookworm-20.11.1", 1, nil)
	res, err := build(context.Background(), s, tags)
	if err != nil {
		t.Fatalf("build: %+v", err)
	}
	got := resolvedOf(t, res.Metadata[MetaResolved])
	if g := got["golang@file:go.mod"]; g.Version != "1.23.2" {
		t.Errorf("golang from go.mod = %+v, want the toolchain's 1.23.2", g)
	}
	if n := got["nodejs@file:web/package.json"]; n.Version != "20.11.1" {
		t.Errorf("nodejs from package.json = %+v, want 20.11.1, the newest below 20.12", n)
	}
}

func TestVersionFileErrors(t *testing.T) {
	cases := []struct {
		name, line string
		context    map[string]string
		want       string
	}{
		{"missing", "SDK python@file:.python-version", nil, ".python-version is not in the build context"},
		{"empty", "SDK python@file:.python-version", map[string]string{".python-version": "\n# nothing\n"}, ".python-version: expected a version on the first line"},
		{"bad json", "SDK nodejs@file:package.json", map[string]string{"package.json": "{"}, "package.json: not valid JSON"},
		{"no engines", "SDK nodejs@file:package.json", map[string]string{"package.json": "{}"}, `package.json: expected "engines": {"node": "<range>"}`},
		{"alias", "SDK nodejs@file:.nvmrc", map[string]string{".nvmrc": "lts/*\n"}, "aliases such as lts/* are not supported"},
		{"unknown file", "SDK nodejs@file:versions.txt", nil, "sdkfront reads versions from"},
		{"outside", "SDK nodejs@file:../.nvmrc", nil, "inside the context"},
		{"no named context", "SDK nodejs@file:web:.nvmrc", nil, `no build context named "web"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\n\n" + c.line + "\n"
			s, tags := sdkStub(df)
			s.context = c.context
			_, err := build(context.Background(), s, tags)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if src := sourceOf(t, err); src.Ranges[0].Start.Line != 4 {
				t.Errorf("error at line %d, want 4", src.Ranges[0].Start.Line)
			}
		})
	}
}
