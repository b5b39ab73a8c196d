package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is one measured build (or floor pipeline).
type sample struct {
	secs     float64
	sdkBytes int64 // blob bytes that carry the SDK, from every server
	allBytes int64 // every blob byte served
	reqs     int   // requests in the scope's log (the registry's, or a proxy's)
	agents   map[string]int
	peakKB   map[string]int64 // frontend process -> peak RSS
	vertices []vertex
	reqList  []request
}

// vertex is one step of BuildKit's progress.
type vertex struct {
	Digest    string     `json:"digest"`
	Name      string     `json:"name"`
	Started   *time.Time `json:"started"`
	Completed *time.Time `json:"completed"`
	Cached    bool       `json:"cached"`
}

func (v vertex) secs() float64 {
	if v.Started == nil || v.Completed == nil {
		return 0
	}
	return v.Completed.Sub(*v.Started).Seconds()
}

// project is a build's directory: its Dockerfile and other files.
type project struct {
	dir  string
	opts []string // more buildctl args
}

// newProject writes files into a new directory named after the case
// (name-<random>).
func newProject(name string, files map[string]string, opts ...string) project {
	dir, err := os.MkdirTemp(filepath.Join(*benchDir, "tmp"), name+"-")
	check(err)
	for n, body := range files {
		check(os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644))
	}
	return project{dir: dir, opts: opts}
}

// scope is where a build's requests are counted and which blobs are SDK.
type scope struct {
	registry *accessLog // nil: none
	proxies  []*reqLog  // in-memory logs (proxies, the file server)
	sdkBlobs map[string]bool
	sdkPaths map[string]bool // file server paths that are SDK tarballs
	memory   bool            // poll the frontend's peak RSS
}

// build runs buildctl against the bench daemon and measures it. check
// validates the output directory.
func (b *bench) build(p project, sc scope, checkOut func(dir string) error) sample {
	out, err := os.MkdirTemp(filepath.Join(*benchDir, "tmp"), "o-")
	check(err)
	defer os.RemoveAll(out)
	var regMark int64
	if sc.registry != nil {
		regMark = sc.registry.mark()
	}
	marks := make([]int, len(sc.proxies))
	for i, l := range sc.proxies {
		marks[i] = l.mark()
	}
	args := []string{"--addr", b.d.addr, "build", "--progress", "rawjson", "--frontend", "dockerfile.v0",
		"--local", "context=" + p.dir, "--local", "dockerfile=" + p.dir,
		"--output", "type=local,dest=" + out}
	args = append(args, p.opts...)
	cmd := exec.Command(filepath.Join(*labDir, "bin", "buildctl"), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var stopPoll func() map[string]int64
	if sc.memory {
		stopPoll = pollPeak(b.d.pid)
	}
	start := time.Now()
	err = cmd.Run()
	secs := time.Since(start).Seconds()
	s := sample{secs: secs, agents: map[string]int{}}
	if stopPoll != nil {
		s.peakKB = stopPoll()
	}
	s.vertices = parseProgress(stderr.Bytes())
	keepProgress(p.dir, stderr.Bytes())
	if err != nil {
		fail(fmt.Sprintf("build of %s failed: %v\n%s", p.dir, err, tail(progressText(stderr.Bytes()))))
	}
	if checkOut != nil {
		if err := checkOut(out); err != nil {
			fail(fmt.Sprintf("build of %s: %v", p.dir, err))
		}
	}
	time.Sleep(150 * time.Millisecond) // let the registry's access log catch up
	var reqs []request
	if sc.registry != nil {
		reqs = append(reqs, sc.registry.since(regMark)...)
	}
	for i, l := range sc.proxies {
		reqs = append(reqs, l.since(marks[i])...)
	}
	s.reqList = reqs
	for _, r := range reqs {
		s.reqs++
		s.agents[agentKind(r.agent)]++
		if r.method != "GET" || r.status/100 != 2 {
			continue
		}
		if i := strings.Index(r.path, "/blobs/"); i >= 0 {
			s.allBytes += r.bytes
			if sc.sdkBlobs[r.path[i+len("/blobs/"):]] {
				s.sdkBytes += r.bytes
			}
		} else if sc.sdkPaths[r.path] {
			s.allBytes += r.bytes
			s.sdkBytes += r.bytes
		}
	}
	return s
}

func agentKind(ua string) string {
	switch {
	case strings.HasPrefix(ua, "sdkfront"):
		return "sdkfront"
	case strings.Contains(ua, "buildkit") || strings.Contains(ua, "containerd"):
		return "buildkit"
	case ua == "":
		return "none"
	}
	f, _, _ := strings.Cut(ua, "/")
	return f
}

// parseProgress reads buildctl's rawjson progress: the last state of each
// vertex.
func parseProgress(dt []byte) []vertex {
	byDigest := map[string]vertex{}
	var order []string
	s := bufio.NewScanner(bytes.NewReader(dt))
	s.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for s.Scan() {
		var st struct {
			Vertexes []vertex `json:"vertexes"`
		}
		if json.Unmarshal(s.Bytes(), &st) != nil {
			continue
		}
		for _, v := range st.Vertexes {
			old, ok := byDigest[v.Digest]
			if !ok {
				order = append(order, v.Digest)
			}
			if v.Started == nil {
				v.Started = old.Started
			}
			if v.Completed == nil {
				v.Completed = old.Completed
			}
			byDigest[v.Digest] = v
		}
	}
	var out []vertex
	for _, d := range order {
		out = append(out, byDigest[d])
	}
	return out
}

// progressText is the logs in rawjson progress, for error messages.
func progressText(dt []byte) []byte {
	var b bytes.Buffer
	s := bufio.NewScanner(bytes.NewReader(dt))
	s.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for s.Scan() {
		var st struct {
			Vertexes []struct {
				Name  string `json:"name"`
				Error string `json:"error"`
			} `json:"vertexes"`
			Logs []struct {
				Data []byte `json:"data"`
			} `json:"logs"`
		}
		if json.Unmarshal(s.Bytes(), &st) != nil {
			b.Write(s.Bytes())
			b.WriteByte('\n')
			continue
		}
		for _, v := range st.Vertexes {
			if v.Error != "" {
				fmt.Fprintf(&b, "%s: ERROR %s\n", v.Name, v.Error)
			}
		}
		for _, l := range st.Logs {
			b.Write(l.Data)
		}
	}
	return b.Bytes()
}

// topVertices formats the slowest uncached vertices.
func topVertices(vs []vertex, n int) string {
	vs = append([]vertex(nil), vs...)
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].secs() > vs[j].secs() })
	var parts []string
	for _, v := range vs {
		if len(parts) == n || v.secs() < 0.05 {
			break
		}
		name := v.Name
		if len(name) > 70 {
			name = name[:67] + "..."
		}
		parts = append(parts, fmt.Sprintf("%.2fs %s", v.secs(), name))
	}
	return strings.Join(parts, "; ")
}

// ---------------------------------------------------------------------------
// peak memory of the frontend

// pollPeak samples VmHWM (peak RSS) of every frontend process (sdkfront,
// dockerfile-frontend) that descends from the daemon, until stopped.
func pollPeak(daemon int) func() map[string]int64 {
	var mu sync.Mutex
	peak := map[string]int64{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				pid, err := strconv.Atoi(e.Name())
				if err != nil {
					continue
				}
				comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				if err != nil {
					continue
				}
				c := strings.TrimSpace(string(comm))
				if c != "sdkfront" && !strings.HasPrefix(c, "dockerfile-fro") {
					continue
				}
				if !descends(pid, daemon) {
					continue
				}
				if kb := vmHWM(pid); kb > 0 {
					mu.Lock()
					peak[c] = max(peak[c], kb)
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() map[string]int64 {
		close(stop)
		<-done
		return peak
	}
}

func descends(pid, ancestor int) bool {
	for i := 0; i < 16 && pid > 1; i++ {
		if pid == ancestor {
			return true
		}
		dt, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(dt)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			return false
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return pid == ancestor
}

func vmHWM(pid int) int64 {
	dt, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(dt), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// keepProgress writes a build's rawjson progress to out/progress/, one file
// a build (<case>-<random>-<n>.json, n counting the project's builds: 1 is
// cold in the cold/warm/edited section), for looking at where the time of
// a case went: every vertex with its start and end.
func keepProgress(dir string, dt []byte) {
	progressMu.Lock()
	progressN[dir]++
	n := progressN[dir]
	progressMu.Unlock()
	pd := filepath.Join(*benchDir, "out", "progress")
	if err := os.MkdirAll(pd, 0o755); err != nil {
		logf("keeping progress: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(pd, fmt.Sprintf("%s-%d.json", filepath.Base(dir), n)), dt, 0o644); err != nil {
		logf("keeping progress: %v", err)
	}
}

var (
	progressMu sync.Mutex
	progressN  = map[string]int{}
)
