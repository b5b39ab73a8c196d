package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// osBase pushes the lab's busybox with an /etc/os-release naming codename,
// as a Debian release's image has, and returns its reference.
func osBase(t *testing.T, codename string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "PRETTY_NAME=\"Debian GNU/Linux (" + codename + ")\"\nID=debian\nVERSION_CODENAME=" + codename + "\n"
	if err := tw.WriteHeader(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	src, _ := name.ParseReference(lab.registry+"/lab/busybox", name.Insecure)
	base, err := remote.Image(src)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := lab.registry + "/lab/osbase:" + codename
	dst, _ := name.ParseReference(ref, name.Insecure)
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestFlavorFromBaseImage: with no flavor anywhere, an SDK line gets the
// VERSION_CODENAME of its stage's base when the SDK has that flavor, else
// the default with a warning; scratch gets the default silently.
func TestFlavorFromBaseImage(t *testing.T) {
	cases := []struct {
		name, base, want, warn string
	}{
		{"bullseye base", osBase(t, "bullseye"), "bullseye", ""},
		{"bookworm base", osBase(t, "bookworm"), "bookworm", ""},
		{"codename the SDK lacks", osBase(t, "trixie"), "bookworm",
			"SDKFlavorFallback: SDK python@3.11.9: the base image " + lab.registry + "/lab/osbase:trixie is trixie, but the SDK has no trixie flavor, so it gets bookworm"},
		{"scratch", "scratch", "bookworm", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			df := header("FROM " + c.base + " AS b\nSDK python@3.11.9 --to=/py\nFROM scratch\nCOPY --from=b /py/sdk-info.txt /\n")
			r := buildctl(t, project(t, df, map[string]string{}), "--progress", "rawjson").mustSucceed(t)
			if got := r.file(t, "sdk-info.txt"); !strings.Contains(got, "flavor="+c.want+"\n") {
				t.Errorf("the SDK is %q, want flavor %s", got, c.want)
			}
			var warned []string
			for msg := range rawWarnings(t, r.err) {
				if strings.HasPrefix(msg, "SDKFlavorFallback") {
					warned = append(warned, msg)
				}
			}
			switch {
			case c.warn == "" && len(warned) > 0:
				t.Errorf("warned %q", warned)
			case c.warn != "" && (len(warned) != 1 || !strings.HasPrefix(warned[0], c.warn)):
				t.Errorf("warnings %q, want %q", warned, c.warn)
			}
		})
	}
}

// TestVersionFiles: SDK <platform>@file: reads the version from the build
// context (local or git) or a named context.
func TestVersionFiles(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		df := header("FROM scratch\nSDK python@file:.python-version --to=/py\n")
		r := buildctl(t, project(t, df, map[string]string{".python-version": "3.12\n"})).mustSucceed(t)
		if got := r.file(t, "py/sdk-info.txt"); !strings.Contains(got, "version=3.12.7\n") {
			t.Errorf("python from .python-version 3.12: %q", got)
		}
	})
	t.Run("named context", func(t *testing.T) {
		web := t.TempDir()
		if err := os.WriteFile(filepath.Join(web, ".nvmrc"), []byte("v18\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		df := header("FROM scratch\nSDK nodejs@file:web:.nvmrc --to=/n\n")
		r := buildctl(t, project(t, df, map[string]string{}), "--local", "web="+web, "--opt", "context:web=local:web").mustSucceed(t)
		if got := r.file(t, "n/sdk-info.txt"); !strings.Contains(got, "version=18.20.4\n") {
			t.Errorf("nodejs from web:.nvmrc v18: %q", got)
		}
	})
	t.Run("git context", func(t *testing.T) {
		repo := gitRepo(t, map[string]string{
			"Dockerfile":    header("FROM scratch AS b\nSDK golang@file:go.mod --to=/go\nFROM scratch\nCOPY --from=b /go/VERSION /\n"),
			"go.mod":        "module example.com/x\n\ngo 1.22\n\ntoolchain go1.23.4\n",
			".dockerignore": "",
		})
		out := t.TempDir()
		r := run(t, out, bin("buildctl"), "--addr", lab.addr, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
			"--opt", "context="+repo, "--output", "type=local,dest="+out).mustSucceed(t)
		if got, _ := os.ReadFile(filepath.Join(out, "VERSION")); !strings.HasPrefix(string(got), "go1.23.4") {
			t.Errorf("the toolchain's VERSION is %q, want go1.23.4 (go.mod's toolchain line)\n%s", got, tail(r.err, 20))
		}
		if !strings.Contains(r.err, "[sdk] golang@file:go.mod -> 1.23.4 (bookworm)") {
			t.Errorf("progress does not show golang@file:go.mod -> 1.23.4:\n%s", tail(r.err, 30))
		}
	})
}

// gitRepo serves a one-commit git repository of files over git:// on
// loopback and returns its URL, as a git build context.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "repo.git")
	work := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", ".")
	git(work, "commit", "-q", "-m", "e2e")
	git(base, "clone", "-q", "--bare", work, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", "--port="+strconv.Itoa(port), "--base-path="+base, base)
	// git execs git-daemon as a child: kill the whole group, or it outlives the test.
	d.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-d.Process.Pid, syscall.SIGKILL); _ = d.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("git daemon did not start")
		}
	}
	return "git://127.0.0.1:" + strconv.Itoa(port) + "/repo.git#main"
}
