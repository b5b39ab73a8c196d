package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// privateRegistry starts a second distribution registry on loopback that
// demands credentials (htpasswd, so a token-less Basic challenge), with the
// same storage as the lab's, and returns its address.
func privateRegistry(t *testing.T) string { return privateRegistryWith(t, "owner", "secret") }

// privateRegistryWith is privateRegistry for the given user and password.
func privateRegistryWith(t *testing.T, user, password string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`version: 0.1
storage:
  filesystem:
    rootdirectory: %s
  maintenance:
    readonly:
      enabled: true
http:
  addr: %s
  secret: e2e
auth:
  htpasswd:
    realm: sdkfront-e2e
    path: %s
`, filepath.Join(lab.dir, "registry"), addr, htpasswd)
	conf := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin("registry"), "serve", conf)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			dt, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("private registry on %s did not come up asking for credentials: %v\n%s", addr, err, dt)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeniedAuth: SDKs from a registry that wants credentials the build
// does not have fail with an error that says so, on the user's line, both
// for an exact version (resolved through BuildKit) and for a range (listed
// by sdkfront itself).
func TestDeniedAuth(t *testing.T) {
	reg := privateRegistry(t)
	for _, c := range []struct{ ref, want string }{
		{"golang@1.23.4", "cannot resolve SDK image " + reg + "/sdks/golang:bookworm-1.23.4"},
		{"golang@1.23", "denied"},
	} {
		t.Run(c.ref, func(t *testing.T) {
			df := "# syntax=" + lab.frontend + "\n# sdk-source=" + reg + "/sdks/{platform}:{flavor}-{version}\n" +
				"FROM " + lab.registry + "/lab/busybox\nSDK " + c.ref + "\nRUN true\n"
			r := buildctl(t, project(t, df, map[string]string{})).mustFail(t)
			for _, w := range []string{c.want, reg, "Dockerfile:4", "SDK " + c.ref} {
				if !strings.Contains(strings.ToLower(r.err), strings.ToLower(w)) {
					t.Errorf("error output lacks %q:\n%s", w, tail(r.err, 25))
				}
			}
		})
	}
}
