package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCredentialsNeverLeak: an exact-version SDK from a registry that wants
// credentials resolves with the client's docker credentials through the
// session, and neither the password nor the auth header value appears in
// the LLB (the provenance's definition), the image config and history, the
// provenance, the progress stream, or the daemon's log (which holds the
// frontend's).
func TestCredentialsNeverLeak(t *testing.T) {
	password := fmt.Sprintf("pw-%d-never-print-me", time.Now().UnixNano())
	reg := privateRegistryWith(t, "owner", password)
	auth := base64.StdEncoding.EncodeToString([]byte("owner:" + password))
	secrets := []string{password, auth}

	cfgDir := t.TempDir()
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, reg, auth)
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logStart, err := os.Stat(filepath.Join(lab.dir, "logs", "buildkitd.log"))
	if err != nil {
		t.Fatal(err)
	}

	df := "# syntax=" + lab.frontend + "\n# sdk-source=" + reg + "/sdks/{platform}:{flavor}-{version}\n" +
		"FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23.4\nRUN go version > /v\n"
	dir := project(t, df, map[string]string{})
	out := filepath.Join(t.TempDir(), "image.tar")
	cmd := []string{"--addr", lab.addr, "build", "--progress", "rawjson", "--frontend", "dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--opt", "attest:provenance=mode=max", "--output", "type=oci,dest=" + out}
	r := runEnv(t, []string{"DOCKER_CONFIG=" + cfgDir}, bin("buildctl"), cmd...)
	if r.failed != nil {
		t.Fatalf("the build with credentials failed: %v\n%s", r.failed, tail(decodeRaw(r.err), 40))
	}

	// Everything the build left, as text.
	where := map[string]string{
		"progress (raw)":     r.err,
		"progress (decoded)": decodeRaw(r.err),
	}
	blobs := ociBlobs(t, out)
	if len(blobs) < 5 {
		t.Fatalf("the OCI output has %d blobs; expected the image and its provenance", len(blobs))
	}
	var sawProvenance, sawLLB, sawHistory bool
	for name, b := range blobs {
		where["OCI blob "+name] = b
		sawProvenance = sawProvenance || strings.Contains(b, "https://slsa.dev/provenance")
		sawLLB = sawLLB || strings.Contains(b, `"llbDefinition"`)
		sawHistory = sawHistory || strings.Contains(b, `"created_by"`)
	}
	if !sawProvenance || !sawLLB || !sawHistory {
		t.Errorf("looked at no provenance (%v), no LLB definition (%v) or no history (%v)", sawProvenance, sawLLB, sawHistory)
	}
	dt, err := os.ReadFile(filepath.Join(lab.dir, "logs", "buildkitd.log"))
	if err != nil {
		t.Fatal(err)
	}
	where["daemon and frontend log"] = string(dt[logStart.Size():])
	if !strings.Contains(strings.Join(mapValues(blobs), ""), reg+"/sdks/golang") {
		t.Errorf("the outputs do not mention the SDK from %s: the search would look at the wrong build", reg)
	}
	for place, text := range where {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the credential %q appears in the %s", s[:6]+"…", place)
			}
		}
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// runEnv is run with extra environment variables.
func runEnv(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	old := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		old[k] = os.Getenv(k)
		if err := os.Setenv(k, v); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for k, v := range old {
			if err := os.Setenv(k, v); err != nil {
				t.Error(err)
			}
		}
	}()
	return run(t, "", name, args...)
}

// decodeRaw decodes the base64 fields (logs, warnings) of a rawjson
// progress stream.
func decodeRaw(stream string) string {
	var b strings.Builder
	for _, l := range strings.Split(stream, "\n") {
		var st struct {
			Logs     []struct{ Data []byte }
			Warnings []struct {
				Short  []byte
				Detail [][]byte
			}
		}
		if json.Unmarshal([]byte(l), &st) != nil {
			continue
		}
		for _, lg := range st.Logs {
			b.Write(lg.Data)
		}
		for _, w := range st.Warnings {
			b.Write(w.Short)
			b.WriteByte('\n')
			for _, d := range w.Detail {
				b.Write(d)
			}
		}
	}
	return b.String()
}

// ociBlobs reads every JSON-ish blob of an OCI layout tarball (manifests,
// configs, attestations), skipping compressed layers.
func ociBlobs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dt, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(dt, []byte{0x1f, 0x8b}) {
			continue
		}
		out[h.Name] = string(dt)
	}
	return out
}
