package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The benchmark's own processes: a registry (with its own access log) and a
// buildkitd (with its own root), so that pruning and counting never touch
// the shared lab. Everything lives under .lab/bench/.

// cleanups run in reverse order on exit, also after a failure or a signal.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func runCleanups() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process in its own process group, stopped at exit.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(name, logPath string, env []string, bin string, args ...string) *proc {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	check(err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	check(cmd.Start())
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	atExit(p.stop)
	return p
}

// stop sends SIGTERM to the process (its pid only, never a name), then
// SIGKILL after 30 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func waitFor(what string, p *proc, logPath string, ok func() bool) {
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if p.exited() || time.Now().After(deadline) {
			dt, _ := os.ReadFile(logPath)
			fail(fmt.Sprintf("%s did not come up:\n%s", what, tail(dt)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startRegistry runs the lab's registry binary on a free port with storage
// under dir (kept between runs, so seeding is done once) and the access log
// in logPath. maxTags is the largest tags/list page it honours.
func startRegistry(bin, dir, logPath string, maxTags int) string {
	port := freePort()
	host := fmt.Sprintf("127.0.0.1:%d", port)
	check(os.MkdirAll(filepath.Join(dir, "storage"), 0o755))
	cfg := filepath.Join(dir, "config.yml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: sdkfront-bench-not-a-secret
tags:
  maxtags: %d
`, filepath.Join(dir, "storage"), host, maxTags)), 0o644))
	p := startProc("registry", logPath, []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"},
		bin, "serve", cfg)
	waitFor("registry", p, logPath, func() bool {
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return host
}

// daemon is the benchmark's buildkitd.
type daemon struct {
	addr  string
	root  string
	debug string // pprof address
	pid   int
}

// startDaemon starts a buildkitd as e2e's second daemon does: its own root
// and socket, the runc worker with overlayfs, host network, and plain HTTP
// to the given registries. Its configuration is the lab's own
// (lab/lab.sh buildkitd-config, run from the repository root as make bench
// does). Its root is on the same filesystem as the floor's output
// (.lab/bench).
func startDaemon(bin, dir string, insecure []string) *daemon {
	unmountUnder(dir)
	check(os.RemoveAll(dir))
	check(os.MkdirAll(dir, 0o755))
	d := &daemon{
		addr:  "unix://" + filepath.Join(dir, "bk.sock"),
		root:  filepath.Join(dir, "root"),
		debug: fmt.Sprintf("127.0.0.1:%d", freePort()),
	}
	args := []string{"buildkitd-config", "--root", d.root, "--addr", d.addr, "--debug-address", d.debug}
	for _, h := range insecure {
		args = append(args, "--http", h)
	}
	gen := exec.Command(filepath.Join("lab", "lab.sh"), args...)
	gen.Stderr = os.Stderr
	toml, err := gen.Output()
	if err != nil {
		fail(fmt.Sprintf("lab/lab.sh buildkitd-config (run bench from the repository root): %v", err))
	}
	cfg := filepath.Join(dir, "buildkitd.toml")
	check(os.WriteFile(cfg, toml, 0o644))
	logPath := filepath.Join(dir, "buildkitd.log")
	p := startProc("buildkitd", logPath, nil, bin, "--config", cfg)
	d.pid = p.cmd.Process.Pid
	atExit(func() {
		p.stop()
		unmountUnder(dir)
		logf("removing the bench daemon's root")
		os.RemoveAll(d.root)
	})
	waitFor("buildkitd", p, logPath, func() bool {
		return exec.Command(filepath.Join(*labDir, "bin", "buildctl"), "--addr", d.addr, "debug", "workers").Run() == nil
	})
	return d
}

// unmountUnder lazily unmounts whatever a stopped buildkitd left under dir.
func unmountUnder(dir string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return
	}
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) > 1 && strings.HasPrefix(fs[1], abs+"/") {
			mounts = append(mounts, fs[1])
		}
	}
	f.Close()
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = exec.Command("umount", "-l", mounts[i]).Run()
	}
}

// ---------------------------------------------------------------------------
// access logs

// request is one logged registry or HTTP request.
type request struct {
	method, path, agent string
	status              int
	bytes               int64
}

// accessLog is a registry's combined-format access log file.
type accessLog struct{ path string }

func (l accessLog) mark() int64 {
	fi, err := os.Stat(l.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// 127.0.0.1 - - [date] "GET /v2/<repo>/blobs/sha256:... HTTP/1.1" 200 <bytes> "" "<agent>"
var combined = regexp.MustCompile(`"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"`)

// since returns the requests logged after mark.
func (l accessLog) since(mark int64) []request {
	f, err := os.Open(l.path)
	check(err)
	defer f.Close()
	_, err = f.Seek(mark, 0)
	check(err)
	var out []request
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for s.Scan() {
		m := combined.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		st, _ := strconv.Atoi(m[3])
		n, _ := strconv.ParseInt(m[4], 10, 64)
		out = append(out, request{method: m[1], path: m[2], status: st, bytes: n, agent: m[5]})
	}
	return out
}
