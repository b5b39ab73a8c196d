// Command bench compares, side by side in one run, three ways of getting the
// same Go SDK into a build and running it:
//
//   - sdkfront: "SDK <repo>@1.23.4" through the frontend image;
//   - stock: what a user hand-writes for BuildKit's own Dockerfile
//     frontend: RUN --mount=from=<image>@digest + tar -xzf;
//   - floor: the physical minimum on the host: fetch the layer from the
//     registry and unpack the tarball inside it (curl | tar | tar).
//
// Each build runs cold (after "buildctl prune --all"), warm (unchanged,
// fully cached) and edited (a step after the SDK changes), several times;
// the table reports medians, registry bytes fetched and ratios.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	registry = flag.String("registry", envOr("LAB_REGISTRY", "127.0.0.1:5000"), "lab registry")
	addr     = flag.String("addr", os.Getenv("BUILDKIT_HOST"), "buildkitd address")
	labDir   = flag.String("lab", ".lab", "lab state directory")
	runs     = flag.Int("runs", 3, "runs per measurement")
	repo     = flag.String("repo", "oryx/golang-sdk", "SDK repository (Oryx layout)")
	version  = flag.String("version", "1.23.4", "SDK version")
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func main() {
	flag.Parse()
	if *addr == "" {
		fail("BUILDKIT_HOST is not set; run through `make bench`")
	}
	tag := "bookworm-" + *version
	dgst, layer, size := manifest(*repo, tag)
	inner := fmt.Sprintf("golang-bookworm-%s.tar.gz", *version)
	fmt.Printf("SDK: %s/%s:%s = %s, layer %s (%.1f MiB)\n\n", *registry, *repo, tag, short(dgst), short(layer), float64(size)/(1<<20))

	sdkDF := func(step string) string {
		return fmt.Sprintf("# syntax=%s/sdkfront:dev\nFROM %s/lab/busybox AS b\nSDK %s/%s@%s\nRUN go version > /v && %s\nFROM scratch\nCOPY --from=b /v /v\n",
			*registry, *registry, *registry, *repo, *version, step)
	}
	stockDF := func(step string) string {
		return fmt.Sprintf("FROM %s/lab/busybox AS b\n"+
			"RUN --mount=from=%s/%s@%s,target=/sdk mkdir -p /usr/local/go && tar -xzf /sdk/%s -C /usr/local/go\n"+
			"ENV PATH=/usr/local/go/bin:$PATH\nRUN go version > /v && %s\nFROM scratch\nCOPY --from=b /v /v\n",
			*registry, *registry, *repo, dgst, inner, step)
	}
	variants := []struct {
		name string
		df   func(string) string
	}{{"sdkfront", sdkDF}, {"stock", stockDF}}

	results := map[string]map[string]*cell{} // scenario -> variant -> cell
	scenarios := []string{"cold", "warm", "edited"}
	for _, s := range scenarios {
		results[s] = map[string]*cell{"sdkfront": {}, "stock": {}, "floor": {}}
	}

	for i := 0; i < *runs; i++ {
		// Interleave the variants so that drift hits both alike.
		for _, v := range variants {
			dir := project(v.df("true"))
			prune()
			secs, n := timed(func() { build(dir) })
			results["cold"][v.name].add(secs, n)
			secs, n = timed(func() { build(dir) })
			results["warm"][v.name].add(secs, n)
			edited := project(v.df(fmt.Sprintf("echo %d-%d > /dev/null", i, time.Now().UnixNano())))
			secs, n = timed(func() { build(edited) })
			results["edited"][v.name].add(secs, n)
		}
		secs, n := timed(func() { floor(layer, inner) })
		results["cold"]["floor"].add(secs, n)
	}

	fmt.Printf("median of %d runs; MiB = bytes the registry served for blobs\n\n", *runs)
	fmt.Println("| scenario | sdkfront | stock | floor | sdkfront / stock | sdkfront / floor |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, s := range scenarios {
		r := results[s]
		a, b, f := r["sdkfront"], r["stock"], r["floor"]
		floorCol, floorRatio := "-", "-"
		if len(f.secs) > 0 {
			floorCol = f.String()
			floorRatio = fmt.Sprintf("%.2fx", median(a.secs)/median(f.secs))
		}
		fmt.Printf("| %s | %s | %s | %s | %.2fx | %s |\n", s, a, b, floorCol, median(a.secs)/median(b.secs), floorRatio)
	}
}

// cell is one measurement, repeated.
type cell struct {
	secs  []float64
	bytes []int64
}

func (c *cell) add(secs float64, n int64) {
	c.secs = append(c.secs, secs)
	c.bytes = append(c.bytes, n)
}

func (c *cell) String() string {
	return fmt.Sprintf("%.2fs, %.1f MiB", median(c.secs), float64(medianInt(c.bytes))/(1<<20))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianInt(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// timed runs f and returns its wall time and the blob bytes the registry
// served meanwhile.
func timed(f func()) (float64, int64) {
	off := logSize()
	start := time.Now()
	f()
	secs := time.Since(start).Seconds()
	time.Sleep(200 * time.Millisecond) // let the access log catch up
	return secs, blobBytes(off)
}

func project(df string) string {
	dir, err := os.MkdirTemp("", "sdkfront-bench-")
	check(err)
	check(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644))
	return dir
}

func build(dir string) {
	out, err := os.MkdirTemp("", "sdkfront-bench-out-")
	check(err)
	defer os.RemoveAll(out)
	buildctl("build", "--frontend", "dockerfile.v0", "--local", "context="+dir, "--local", "dockerfile="+dir,
		"--output", "type=local,dest="+out)
	if dt, err := os.ReadFile(filepath.Join(out, "v")); err != nil || !strings.Contains(string(dt), "go"+*version) {
		fail(fmt.Sprintf("build of %s did not run go%s: %q %v", dir, *version, dt, err))
	}
}

func prune() { buildctl("prune", "--all") }

func buildctl(args ...string) {
	cmd := exec.Command(filepath.Join(*labDir, "bin", "buildctl"), append([]string{"--addr", *addr}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("buildctl %s: %v\n%s", strings.Join(args, " "), err, tail(out)))
	}
}

// floor fetches the layer and unpacks the tarball inside it, streaming.
func floor(layer, inner string) {
	dir, err := os.MkdirTemp("", "sdkfront-bench-floor-")
	check(err)
	defer os.RemoveAll(dir)
	sh := fmt.Sprintf("set -o pipefail; curl -sfS http://%s/v2/%s/blobs/%s | tar -xzOf - %s | tar -xzf - -C %s",
		*registry, *repo, layer, inner, dir)
	if out, err := exec.Command("bash", "-c", sh).CombinedOutput(); err != nil {
		fail(fmt.Sprintf("floor: %v\n%s", err, out))
	}
	if _, err := os.Stat(filepath.Join(dir, "bin", "go")); err != nil {
		fail("floor: no bin/go unpacked")
	}
}

func manifest(repo, tag string) (dgst, layer string, size int64) {
	req, _ := http.NewRequest("GET", "http://"+*registry+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	check(err)
	defer resp.Body.Close()
	var m struct {
		Layers []struct {
			Digest string
			Size   int64
		}
	}
	check(json.NewDecoder(resp.Body).Decode(&m))
	if len(m.Layers) != 1 {
		fail(fmt.Sprintf("%s:%s has %d layers", repo, tag, len(m.Layers)))
	}
	return resp.Header.Get("Docker-Content-Digest"), m.Layers[0].Digest, m.Layers[0].Size
}

func logPath() string { return filepath.Join(*labDir, "logs", "registry.log") }

func logSize() int64 {
	fi, err := os.Stat(logPath())
	check(err)
	return fi.Size()
}

// access-log lines: ... "GET /v2/<repo>/blobs/sha256:... HTTP/1.1" 200 <bytes> ...
var blobGet = regexp.MustCompile(`"GET /v2/\S+/blobs/\S+ HTTP/[0-9.]+" 2\d\d (\d+)`)

func blobBytes(off int64) int64 {
	f, err := os.Open(logPath())
	check(err)
	defer f.Close()
	_, err = f.Seek(off, 0)
	check(err)
	var n int64
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for s.Scan() {
		if m := blobGet.FindStringSubmatch(s.Text()); m != nil {
			b, _ := strconv.ParseInt(m[1], 10, 64)
			n += b
		}
	}
	return n
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func tail(b []byte) string {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "bench:", msg)
	os.Exit(1)
}
