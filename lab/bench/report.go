package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// results holds every sample by section, alternative and scenario.
type results struct {
	m     map[string][]sample
	order []string
}

func newResults() *results { return &results{m: map[string][]sample{}} }

func rkey(section, alt, scen string) string { return section + "|" + alt + "|" + scen }

func (r *results) add(section, alt, scen string, s sample) {
	k := rkey(section, alt, scen)
	if _, ok := r.m[k]; !ok {
		r.order = append(r.order, k)
	}
	r.m[k] = append(r.m[k], s)
	// The last sample's requests, for looking into a count.
	if len(s.reqList) > 0 {
		var b strings.Builder
		for _, q := range s.reqList {
			fmt.Fprintf(&b, "%s %s %d %d %q\n", q.method, q.path, q.status, q.bytes, q.agent)
		}
		check(os.WriteFile(filepath.Join(*benchDir, "out", "requests-"+strings.NewReplacer("|", "-", "/", "_", " ", "_").Replace(k)+".txt"), []byte(b.String()), 0o644))
	}
}

func (r *results) get(section, alt, scen string) []sample { return r.m[rkey(section, alt, scen)] }

// med is the median sample by time (the upper one of an even count).
func med(ss []sample) (sample, bool) {
	if len(ss) == 0 {
		return sample{}, false
	}
	s := slices.Clone(ss)
	sort.SliceStable(s, func(i, j int) bool { return s[i].secs < s[j].secs })
	return s[len(s)/2], true
}

func secs(ss []sample) float64 {
	m, ok := med(ss)
	if !ok {
		return math.NaN()
	}
	return m.secs
}

func medInt(ss []sample, f func(sample) int64) int64 {
	if len(ss) == 0 {
		return -1
	}
	var xs []int64
	for _, s := range ss {
		xs = append(xs, f(s))
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func maxInt(ss []sample, f func(sample) int64) int64 {
	if len(ss) == 0 {
		return -1
	}
	var m int64
	for _, s := range ss {
		m = max(m, f(s))
	}
	return m
}

func ratio(a, b float64) float64 { return a / b }

func fsecs(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.2f s", x)
}

func fratio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

func mib(n int64) string {
	switch {
	case n < 0:
		return "–"
	case n == 0:
		return "0"
	case n < 1<<20:
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func reqs(ss []sample) int64 { return medInt(ss, func(s sample) int64 { return int64(s.reqs) }) }

// agents formats the median sample's requests by who made them.
func agents(ss []sample) string {
	m, ok := med(ss)
	if !ok {
		return "–"
	}
	var parts []string
	for _, k := range []string{"buildkit", "sdkfront"} {
		if m.agents[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m.agents[k]))
		}
	}
	for k, n := range m.agents {
		if k != "buildkit" && k != "sdkfront" {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	sort.Strings(parts[min(len(parts), 2):])
	return strings.Join(parts, ", ")
}

type goal struct {
	name, value, goal string
	met               bool
}

// floor is the fastest pipeline's median for a payload and layout.
func (b *bench) floor(key, layout string) (float64, string) {
	best, which := math.NaN(), ""
	for _, fp := range floorPipes() {
		x := secs(b.res.get(key, "floor-"+layout+"/"+fp.name, "cold"))
		if !math.IsNaN(x) && (math.IsNaN(best) || x < best) {
			best, which = x, fp.name
		}
	}
	return best, which
}

func (b *bench) report(pls []*payload) {
	var w bytes.Buffer
	out := io.MultiWriter(os.Stdout, &w)
	pr := func(format string, args ...any) { fmt.Fprintf(out, format, args...) }

	pr("\n## sdkfront benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	pr("Machine: %s. BuildKit %s (own buildkitd, runc, overlayfs). Load average (1, 5, 15 min): %s.\n",
		machine(), b.bk, strings.Join(b.loadAvg, "; "))
	pr("Frontend: sdkfront:dev %s (%s), stock frontend image %s.\n", b.sdkDigest, b.sdkVersion, b.stock)
	pr("Rounds: %d cold/warm/edited (alternatives interleaved, the order rotated each round), %d warm, %d memory; figures are medians.\n\n",
		*runs, *warmRuns, *memRuns)

	for _, p := range pls {
		alts := b.alternatives(p)
		if len(b.res.get(p.key, alts[0].key, "cold")) == 0 {
			continue
		}
		pr("### %s: cold, warm, edited\n\n", p.label)
		pr("Cold is after `buildctl prune --all` (frontend images included). SDK bytes: what the registry (or the file server) served of the SDK's blobs.\n\n")
		pr("| # | alternative | cold | warm | edited | SDK bytes cold / warm / edited | all blobs cold | sdkfront (tarball) ÷ this, cold |\n|---|---|---|---|---|---|---|---|\n")
		base := secs(b.res.get(p.key, "sdk-tar", "cold"))
		num := map[string]string{"sdk-tar": "1", "sdk-tree": "1", "stock": "2", "stock-tree": "2", "stockimg": "3", "copyfrom": "4", "addunpack": "5"}
		for _, a := range alts {
			c, wm, e := b.res.get(p.key, a.key, "cold"), b.res.get(p.key, a.key, "warm"), b.res.get(p.key, a.key, "edited")
			sdkB := func(ss []sample) string { return mib(maxInt(ss, func(s sample) int64 { return s.sdkBytes })) }
			pr("| %s | %s | %s | %s | %s | %s / %s / %s | %s | %s |\n", num[a.key], a.label, fsecs(secs(c)), fsecs(secs(wm)), fsecs(secs(e)),
				sdkB(c), sdkB(wm), sdkB(e), mib(medInt(c, func(s sample) int64 { return s.allBytes })), fratio(ratio(base, secs(c))))
		}
		for _, layout := range []string{"tar", "tree"} {
			for _, fp := range floorPipes() {
				x := secs(b.res.get(p.key, "floor-"+layout+"/"+fp.name, "cold"))
				what := map[string]string{"tar": "tarball layer", "tree": "tree layer"}[layout]
				pr("| 6 | floor: %s, %s | %s | | | | | %s |\n", fp.name, what, fsecs(x), fratio(ratio(base, x)))
			}
		}
		pr("\n")
		fTar, wTar := b.floor(p.key, "tar")
		fTree, wTree := b.floor(p.key, "tree")
		pr("Floor: tarball layer %s (%s), tree layer %s (%s).\n", fsecs(fTar), wTar, fsecs(fTree), wTree)
		var below []string
		for _, a := range alts {
			f := fTar
			if a.tree {
				f = fTree
			}
			if x := secs(b.res.get(p.key, a.key, "cold")); x < f {
				below = append(below, fmt.Sprintf("%s (%s)", a.key, fsecs(x)))
			}
		}
		if len(below) > 0 {
			pr("WARNING: faster than the floor of their layer: %s. The floor is not a floor here.\n", strings.Join(below, ", "))
		}
		pr("\nWhere the cold time goes (BuildKit progress, the median cold build, slowest steps):\n\n")
		for _, a := range alts {
			if m, ok := med(b.res.get(p.key, a.key, "cold")); ok {
				pr("- %s: %s\n", a.key, topVertices(m.vertices, 4))
			}
		}
		pr("\n")
	}

	if ov := b.res.get("overhead", "sdkfront", "warm"); len(ov) > 0 {
		pr("### No SDK lines: a cached 15-instruction, 3-stage Dockerfile\n\n| frontend | warm | registry requests |\n|---|---|---|\n")
		for _, k := range []struct{ key, label string }{{"sdkfront", "sdkfront (`# syntax=`)"}, {"stockimg", "stock frontend image (`# syntax=`)"}, {"builtin", "builtin frontend"}} {
			ss := b.res.get("overhead", k.key, "warm")
			pr("| %s | %s | %d (%s) |\n", k.label, fsecs(secs(ss)), reqs(ss), agents(ss))
		}
		pr("\n")
	}

	if wn := b.res.get("wan", "exact", "warm"); len(wn) > 0 {
		pr("### WAN: %s per request, %.0f Mbit/s, every registry request through the proxy\n\n", *latency, *mbits)
		pr("| case | warm | requests, warm (by) | cold (first build, 1 sample) |\n|---|---|---|---|\n")
		labels := map[string]string{
			"exact":   "`SDK golang@" + *goVersion + "`",
			"partial": "`SDK golang@1.23` on the 2,004-tag repository",
			"default": "`SDK golang@default`",
			"locked":  "`SDK golang@1.23`, locked",
			"fan5":    "5 SDK lines (4 Go, 1 Node)",
			"plat1":   "1 target platform (index)",
			"plat2":   "2 target platforms (index)",
		}
		for _, k := range []string{"exact", "partial", "default", "locked", "fan5", "plat1", "plat2"} {
			ss := b.res.get("wan", k, "warm")
			pr("| %s | %s | %d (%s) | %s |\n", labels[k], fsecs(secs(ss)), reqs(ss), agents(ss), fsecs(secs(b.res.get("wan", k, "cold"))))
		}
		if m, ok := med(b.res.get("wan", "partial", "warm")); ok {
			pr("\nRequests of a warm partial-version rebuild: %s\n", summarizeRequests(m.reqList))
		}
		if m, ok := med(b.res.get("wan", "exact", "warm")); ok {
			pr("Requests of a warm exact-version rebuild: %s\n", summarizeRequests(m.reqList))
		}
		pr("\n")
	}

	if mm := b.res.get("memory", "tags2k", "warm"); len(mm) > 0 {
		pr("### Memory: the frontend's peak RSS (VmHWM), warm, partial version, over loopback\n\n| case | frontend peak RSS | warm | requests |\n|---|---|---|---|\n")
		for _, k := range []struct{ key, label string }{{"tags2k", "sdkfront, 2,004 tags"}, {"tags200k", "sdkfront, 200,000 tags (synthesized list)"}, {"stockimg", "stock frontend image, hand-written Dockerfile"}} {
			ss := b.res.get("memory", k.key, "warm")
			pk := maxInt(ss, func(s sample) int64 {
				var m int64
				for _, v := range s.peakKB {
					m = max(m, v)
				}
				return m
			})
			pr("| %s | %s | %s | %d |\n", k.label, mib(pk*1024), fsecs(secs(ss)), reqs(ss))
		}
		pr("\n")
	}

	b.pprofReport(pr)

	// The summary.
	g := func(alt, scen string) float64 { return secs(b.res.get("go", alt, scen)) }
	wn := func(k string) float64 { return secs(b.res.get("wan", k, "warm")) }
	fTar, _ := b.floor("go", "tar")
	fTree, _ := b.floor("go", "tree")
	sdkBytes := func(scen string) int64 {
		return maxInt(b.res.get("go", "sdk-tar", scen), func(s sample) int64 { return s.sdkBytes })
	}
	pages := int(math.Ceil(float64(b.bigTags()) / float64(*maxTags)))
	fig := map[string]float64{
		"cold_vs_stock":             ratio(g("sdk-tar", "cold"), g("stock", "cold")),
		"cold_vs_floor":             ratio(g("sdk-tar", "cold"), fTar),
		"cold_vs_copyfrom":          ratio(g("sdk-tar", "cold"), g("copyfrom", "cold")),
		"cold_vs_addunpack":         ratio(g("sdk-tar", "cold"), g("addunpack", "cold")),
		"warm_vs_stockimg":          ratio(g("sdk-tar", "warm"), g("stockimg", "warm")),
		"wan_warm_partial_vs_exact": ratio(wn("partial"), wn("exact")),
		"wan_warm_locked_vs_exact":  ratio(wn("locked"), wn("exact")),
		"overhead_vs_stockimg":      ratio(secs(b.res.get("overhead", "sdkfront", "warm")), secs(b.res.get("overhead", "stockimg", "warm"))),
		"fanout_5_vs_1":             ratio(wn("fan5"), wn("exact")),
	}
	ints := map[string]int64{
		"warm_sdk_bytes":      sdkBytes("warm"),
		"unrelated_sdk_bytes": sdkBytes("edited"),
		"req_exact":           reqs(b.res.get("wan", "exact", "warm")),
		"req_partial":         reqs(b.res.get("wan", "partial", "warm")),
		"req_default":         reqs(b.res.get("wan", "default", "warm")),
	}
	treeAdd := ratio(g("sdk-tree", "cold"), g("addunpack", "cold"))
	treeFloor := ratio(g("sdk-tree", "cold"), fTree)
	plat := ratio(wn("plat2"), wn("plat1"))
	goals := []goal{
		rg("cold_vs_stock", fig["cold_vs_stock"], 1.00),
		rg("cold_vs_floor (tarball layer)", fig["cold_vs_floor"], 1.20),
		rg("cold_vs_floor, tree layer", treeFloor, 1.20),
		rg("cold_vs_copyfrom", fig["cold_vs_copyfrom"], 0.70),
		rg("cold_vs_addunpack, tarball layer", fig["cold_vs_addunpack"], 1.10),
		rg("cold_vs_addunpack, tree layer", treeAdd, 1.00),
		rg("warm_vs_stockimg", fig["warm_vs_stockimg"], 1.05),
		ig("warm_sdk_bytes", ints["warm_sdk_bytes"], 0),
		ig("unrelated_sdk_bytes", ints["unrelated_sdk_bytes"], 0),
		ig("req_exact", ints["req_exact"], 2),
		ig(fmt.Sprintf("req_partial (%d pages of %d + 2)", pages, *maxTags), ints["req_partial"], int64(pages+2)),
		ig("req_default", ints["req_default"], 3),
		rg("wan_warm_partial_vs_exact", fig["wan_warm_partial_vs_exact"], 1.20),
		rg("wan_warm_locked_vs_exact", fig["wan_warm_locked_vs_exact"], 1.00),
		rg("overhead_vs_stockimg", fig["overhead_vs_stockimg"], 1.05),
		rg("fanout_5_vs_1", fig["fanout_5_vs_1"], 1.30),
		{name: "fan-out, 2 platforms vs 1 (no goal)", value: fratio(plat), goal: "", met: true},
	}
	pr("### Goals\n\n| figure | value | goal | |\n|---|---|---|---|\n")
	for _, gl := range goals {
		mark := "met"
		if !gl.met {
			mark = "**missed**"
		}
		if gl.goal == "" {
			mark = ""
		}
		pr("| %s | %s | %s | %s |\n", gl.name, gl.value, gl.goal, mark)
	}
	pr("\n")
	check(os.WriteFile(filepath.Join(*benchDir, "out", "report.md"), w.Bytes(), 0o644))

	r := func(k string) string { return k + "=" + fratio(fig[k]) }
	n := func(k string) string { return fmt.Sprintf("%s=%d", k, ints[k]) }
	fmt.Println("bench: " + strings.Join([]string{
		r("cold_vs_stock"), r("cold_vs_floor"), r("cold_vs_copyfrom"), r("cold_vs_addunpack"), r("warm_vs_stockimg"),
		n("warm_sdk_bytes"), n("unrelated_sdk_bytes"), n("req_exact"), n("req_partial"), n("req_default"),
		r("wan_warm_partial_vs_exact"), r("wan_warm_locked_vs_exact"), r("overhead_vs_stockimg"), r("fanout_5_vs_1"),
	}, " "))
}

func rg(name string, v, max float64) goal {
	return goal{name: name, value: fratio(v), goal: fmt.Sprintf("≤ %.2f", max), met: !math.IsNaN(v) && v <= max}
}

func ig(name string, v, max int64) goal {
	return goal{name: name, value: fmt.Sprint(v), goal: fmt.Sprintf("≤ %d", max), met: v >= 0 && v <= max}
}

// bigTags counts big/golang's tags.
func (b *bench) bigTags() int {
	repo, err := name.NewRepository(b.reg+"/big/golang", name.Insecure)
	check(err)
	tags, err := remote.List(repo, remoteOpts...)
	check(err)
	return len(tags)
}

// summarizeRequests groups requests as "3× HEAD manifests/<tag>, 21× GET tags/list".
func summarizeRequests(rs []request) string {
	counts := map[string]int{}
	var order []string
	for _, r := range rs {
		what := r.path
		if _, rest, ok := splitV2(strings.SplitN(r.path, "?", 2)[0]); ok {
			kind, _, _ := strings.Cut(rest, "/")
			what = kind
			if kind == "tags" {
				what = "tags/list"
			}
		}
		k := fmt.Sprintf("%s %s (%s)", r.method, what, agentKind(r.agent))
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d× %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

// ---------------------------------------------------------------------------

func tail(b []byte) string {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
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
	runCleanups()
	os.Exit(1)
}

// pprofReport summarizes the profiles of each case with go tool pprof.
func (b *bench) pprofReport(pr func(string, ...any)) {
	if b.pprofDir == "" {
		return
	}
	pr("### Frontend profiles (`go tool pprof`, %s)\n\n", b.pprofDir)
	for _, c := range []string{"wan-exact", "wan-partial", "tags200k"} {
		for _, kind := range []string{"cpu", "allocs"} {
			files, _ := filepath.Glob(filepath.Join(b.pprofDir, c+"-*."+kind))
			if len(files) == 0 {
				continue
			}
			args := []string{"tool", "pprof", "-top", "-cum", "-nodecount=25"}
			if kind == "allocs" {
				args = []string{"tool", "pprof", "-top", "-nodecount=12", "-sample_index=alloc_space"}
			}
			out, err := exec.Command("go", append(args, files...)...).CombinedOutput()
			if err != nil {
				pr("%s %s: go tool pprof: %v\n", c, kind, err)
				continue
			}
			pr("%s, %s (%d builds merged):\n\n```\n%s```\n\n", c, kind, len(files), out)
		}
	}
}
