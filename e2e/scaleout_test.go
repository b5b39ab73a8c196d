package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemon starts a second buildkitd, as another node of a buildx builder or
// another pod of the Kubernetes driver would be: its own root, the same
// registry. It is stopped when the test ends.
func daemon(t *testing.T, extraConfig ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bk2-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "bk.sock")
	cfg := filepath.Join(dir, "buildkitd.toml")
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`root = %q
[grpc]
  address = ["unix://%s"]
[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  binary = %q
  networkMode = "host"
[worker.containerd]
  enabled = false
[cdi]
  disabled = true
[registry.%q]
  http = true
`, filepath.Join(dir, "root"), sock, runc, lab.registry) + strings.Join(extraConfig, "\n")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "buildkitd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin("buildkitd"), "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		_ = exec.Command("umount", "-R", filepath.Join(dir, "root")).Run()
		os.RemoveAll(dir)
	})
	addr := "unix://" + sock
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := exec.Command(bin("buildctl"), "--addr", addr, "debug", "workers").Run(); err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			dt, _ := os.ReadFile(logf.Name())
			t.Fatalf("second buildkitd not ready:\n%s", tail(string(dt), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestScaleOutStaysLazy: a fresh buildkitd that imports the registry cache
// another daemon exported rebuilds a Dockerfile with SDK lines without
// fetching the SDK's layer.
func TestScaleOutStaysLazy(t *testing.T) {
	tag := fmt.Sprintf("bookworm-1.0.%d", time.Now().UnixNano()%1_000_000)
	layer := pushSDK(t, "sdks/scaleout:"+tag, map[string]string{"bin/tool": "tool " + tag + "\n"})
	version := strings.TrimPrefix(tag, "bookworm-")
	df := header("FROM " + lab.registry + "/lab/busybox AS b\nSDK scaleout@" + version + " --to=/sdk\n" +
		"RUN mkdir /out && cat /sdk/bin/tool > /out/tool\nFROM scratch\nCOPY --from=b /out /\n")
	dir := project(t, df, map[string]string{})
	cache := lab.registry + "/cache/scaleout:" + version

	r := buildctl(t, dir, "--export-cache", "type=registry,ref="+cache+",mode=max").mustSucceed(t)
	if got := r.file(t, "tool"); got != "tool "+tag+"\n" {
		t.Fatalf("first build: tool = %q", got)
	}

	addr := daemon(t)
	log := markLog(t)
	out := t.TempDir()
	r = run(t, out, bin("buildctl"), "--addr", addr, "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir, "--output", "type=local,dest="+out,
		"--import-cache", "type=registry,ref="+cache).mustSucceed(t)
	if got := r.file(t, "tool"); got != "tool "+tag+"\n" {
		t.Errorf("second daemon: tool = %q", got)
	}
	if gets := log.requests(t, "GET ", "/blobs/"+layer); len(gets) != 0 {
		t.Errorf("the second daemon fetched the SDK layer %s:\n%s", layer, strings.Join(gets, "\n"))
	}
	if !strings.Contains(r.err, "CACHED") {
		t.Errorf("the second daemon did not use the imported cache:\n%s", tail(r.err, 30))
	}
	// The control: without the cache the same daemon does fetch it, so the
	// count above is not zero for want of looking in the right place.
	log = markLog(t)
	run(t, t.TempDir(), bin("buildctl"), "--addr", addr, "build", "--frontend", "dockerfile.v0", "--no-cache",
		"--local", "context="+dir, "--local", "dockerfile="+dir, "--output", "type=local,dest="+t.TempDir()).mustSucceed(t)
	if gets := log.requests(t, "GET ", "/blobs/"+layer); len(gets) == 0 {
		t.Errorf("without the cache, the second daemon did not fetch the SDK layer %s either: the log is not showing it", layer)
	}
}
