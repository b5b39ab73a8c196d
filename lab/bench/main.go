// Command bench (make bench) shows, in one run, where sdkfront stands
// against every other way of getting an SDK into a build, against the
// physical floor, and under internet latency. It never touches the shared
// lab: it runs its own registry (with its own access log), its own
// buildkitd (its own root, pruned before every cold build), a latency proxy
// and a loopback file server, all under .lab/bench/, and stops them at exit.
//
// Payloads: the real Go toolchain (golang.org/toolchain) in Oryx's layout
// (the layer holds a tarball) and as a tree layer; Node from the npm
// registry, both layouts; big/golang, a repository of 2,004 tags over four
// flavors. See docs/performance.md for what each section measures.
//
// The last line of the output is the summary:
//
//	bench: cold_vs_stock=R cold_vs_floor=R ... fanout_5_vs_1=R
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

var (
	labRegistry = flag.String("registry", os.Getenv("LAB_REGISTRY"), "the lab registry, to copy sdkfront:dev (and dockerfile-stock) from")
	labDir      = flag.String("lab", ".lab", "lab state directory (tools in <lab>/bin)")
	benchDir    = flag.String("dir", ".lab/bench", "the benchmark's own state: registry storage, daemon root, caches, report")
	runs        = flag.Int("runs", 3, "rounds of cold/warm/edited builds (each round builds every alternative once, interleaved)")
	warmRuns    = flag.Int("warm-runs", 7, "rounds of the warm-only sections (overhead, WAN, fan-out)")
	memRuns     = flag.Int("mem-runs", 3, "rounds of the memory section")
	quick       = flag.Bool("quick", false, "quick check of the harness: 1 round, 3 warm rounds, Go only")
	payloadsF   = flag.String("payloads", "go,node", "payloads of the cold/warm/edited section: go, node")
	withPprof   = flag.Bool("pprof", false, "also profile the frontend (lab/bench/pprof) on warm rebuilds and print go tool pprof -top")
	only        = flag.String("only", "", "run only these sections (comma-separated: cold, overhead, wan, memory); the summary needs all")
	latency     = flag.Duration("latency", 50*time.Millisecond, "WAN: latency added to every registry request")
	mbits       = flag.Float64("mbits", 200, "WAN: bandwidth cap in Mbit/s")
	maxTags     = flag.Int("maxtags", 1000, "largest tags/list page the bench registry honours (distribution's default)")
	goVersion   = flag.String("go", "1.23.4", "Go toolchain version")
	nodeVersion = flag.String("node", "20.18.0", "Node version")

	extractURL = flag.String("extract", "", "internal: the floor's Go pipeline (fetch URL, write the tree to -dest)")
	extractIn  = flag.String("inner", "", "internal: the tarball inside the layer")
	extractTo  = flag.String("dest", "", "internal: where to write the tree")
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// bench is one run's state.
type bench struct {
	d      *daemon
	reg    string // host:port of the bench registry
	regLog *accessLog
	files  *fileServer
	wan    *proxy // latency and bandwidth cap in front of the registry
	lan    *proxy // no latency; synthesizes the 200,000-tag repository
	base   string // busybox, pinned, path without host
	sdkImg string // sdkfront frontend image ref, path without host
	stock  string // stock frontend image, path without host
	bk     string // BuildKit version
	res    *results
	goP    *payload
	// sdkDigest and sdkVersion identify the frontend image measured.
	sdkDigest, sdkVersion string
	// pprofDir holds the profiled frontend's profiles, when -pprof ran.
	pprofDir string
	loadAvg  []string
}

func main() {
	flag.Parse()
	if *extractURL != "" {
		if err := extract(*extractURL, *extractIn, *extractTo); err != nil {
			fmt.Fprintln(os.Stderr, "extract:", err)
			os.Exit(1)
		}
		return
	}
	if *quick {
		*runs, *warmRuns, *memRuns, *payloadsF = 1, 3, 1, "go"
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		logf("interrupted; stopping the bench daemon and registry")
		runCleanups()
		os.Exit(130)
	}()
	defer runCleanups()

	b := setup()
	sections := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sections[s] = true
		}
	}
	want := func(s string) bool { return len(sections) == 0 || sections[s] }

	var pls []*payload
	for _, name := range strings.Split(*payloadsF, ",") {
		switch strings.TrimSpace(name) {
		case "go":
			pls = append(pls, b.goPayload())
		case "node":
			pls = append(pls, b.nodePayload())
		case "":
		default:
			fail("unknown payload " + name)
		}
	}
	b.load("start")
	if want("cold") {
		for _, p := range pls {
			b.coldSection(p)
		}
		b.load("after cold/warm/edited")
	}
	if want("overhead") {
		b.overheadSection()
	}
	if want("wan") {
		b.wanSection()
		b.load("after WAN")
	}
	if want("memory") {
		b.memorySection()
	}
	if *withPprof || sections["pprof"] {
		b.pprofSection()
	}
	b.load("end")
	b.report(pls)
}

// setup starts the registry and daemon, seeds the payloads, and copies the
// frontend images into the bench registry.
func setup() *bench {
	check(os.MkdirAll(filepath.Join(*benchDir, "tmp"), 0o755))
	check(os.MkdirAll(filepath.Join(*benchDir, "logs"), 0o755))
	check(os.MkdirAll(filepath.Join(*benchDir, "out"), 0o755))
	os.RemoveAll(filepath.Join(*benchDir, "tmp"))
	check(os.MkdirAll(filepath.Join(*benchDir, "tmp"), 0o755))
	*benchDir = mustAbs(*benchDir)
	*labDir = mustAbs(*labDir)
	for _, t := range []string{"registry", "buildkitd", "buildctl"} {
		if !fileExists(filepath.Join(*labDir, "bin", t)) {
			fail(fmt.Sprintf("%s/bin/%s is missing: run make tools", *labDir, t))
		}
	}
	b := &bench{res: newResults()}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "github.com/moby/buildkit").Output()
	check(err)
	b.bk = strings.TrimSpace(string(out))

	for _, tool := range []string{"./lab/seed", "./hack/imagepack"} {
		logf("building %s", tool)
		cmd := exec.Command("go", "build", "-o", filepath.Join(*benchDir, filepath.Base(tool)), tool)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		check(cmd.Run())
	}

	logPath := filepath.Join(*benchDir, "logs", "registry.log")
	b.reg = startRegistry(filepath.Join(*labDir, "bin", "registry"), filepath.Join(*benchDir, "registry"), logPath, *maxTags)
	b.regLog = &accessLog{path: logPath}
	logf("registry %s (access log %s)", b.reg, logPath)

	start := time.Now()
	logf("seeding the payloads (the first time downloads Go toolchains and Node, and pushes 2,004 tags)")
	seed("-registry", b.reg, "bench", "-cache", filepath.Join(*labDir, "cache"), "-go", *goVersion, "-node", *nodeVersion)
	if *labRegistry == "" {
		fail("no lab registry to copy sdkfront:dev from: run through make bench (LAB_REGISTRY)")
	}
	copyImage(*labRegistry+"/sdkfront:dev", b.reg, "sdkfront:dev")
	b.sdkImg = "sdkfront:dev"
	_, b.sdkDigest = manifestLayers(b.reg + "/sdkfront:dev")
	if v, err := exec.Command(filepath.Join(*labDir, "sdkfront"), "--version").Output(); err == nil {
		b.sdkVersion = strings.TrimSpace(string(v))
	}
	b.stock = strings.TrimPrefix(stockFrontend(b.reg, b.bk, *benchDir), b.reg+"/")
	_, bb := manifestLayers(b.reg + "/lab/busybox:latest")
	b.base = "lab/busybox@" + bb
	logf("payloads ready (%s)", time.Since(start).Round(time.Second))

	www := filepath.Join(*benchDir, "www")
	check(os.MkdirAll(www, 0o755))
	b.files = startFileServer(www)
	b.wan = startProxy(b.reg, *latency, *mbits, *maxTags)
	b.lan = startProxy(b.reg, 0, 0, *maxTags)
	b.lan.synth["huge/golang"] = hugeTags()
	b.lan.alias["huge/golang"] = "big/golang"
	b.daemon(b.reg, b.wan.host, b.lan.host, b.files.host)
	return b
}

// daemonFor starts the bench daemon once, knowing every host it must reach
// over plain HTTP.
func (b *bench) daemon(hosts ...string) {
	if b.d != nil {
		return
	}
	b.d = startDaemon(filepath.Join(*labDir, "bin", "buildkitd"), filepath.Join(*benchDir, "bk"), hosts)
	logf("buildkitd %s (root %s, pprof %s)", b.d.addr, b.d.root, b.d.debug)
}

func (b *bench) prune() {
	out, err := exec.Command(filepath.Join(*labDir, "bin", "buildctl"), "--addr", b.d.addr, "prune", "--all").CombinedOutput()
	if err != nil {
		fail(fmt.Sprintf("buildctl prune --all: %v\n%s", err, out))
	}
}

func (b *bench) load(when string) {
	dt, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(dt))
	if len(f) >= 3 {
		b.loadAvg = append(b.loadAvg, fmt.Sprintf("%s %s", when, strings.Join(f[:3], " ")))
	}
}

func machine() string {
	cpu := runtime.GOARCH
	if dt, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(dt), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if dt, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		_, _ = fmt.Sscanf(strings.SplitN(string(dt), "\n", 2)[0], "MemTotal: %d kB", &kb) // 0 GiB if not
		mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	kernel, _ := exec.Command("uname", "-r").Output()
	fsType, _ := exec.Command("stat", "-f", "-c", "%T", *benchDir).Output()
	return fmt.Sprintf("%s, %d cores, %s RAM, Linux %s, buildkitd root on %s", cpu, runtime.NumCPU(), mem,
		strings.TrimSpace(string(kernel)), strings.TrimSpace(string(fsType)))
}
