package main

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/sdkfront/sdkfront/internal/ociimage"
	"github.com/sdkfront/sdkfront/lock"
)

// payload is one SDK, in both layouts, and how a build uses it.
type payload struct {
	key, label        string // "go", "Go 1.23.4"
	platform, version string
	dest              string // where every alternative puts the tree
	oryx, tree        sdkImage
	tarball           string // the file server's path of the SDK tarball (= the tree layer)
	tarSum            string // its sha256
	run               string // the step that uses the SDK, writing /v
	want              string // /v must contain this
	wantFile          string // the floor must write this file of the tree
	copyFrom          string // a golang-like image (path without host) for COPY --from; "" for none
	copyLayer         string // its SDK layer
}

func (b *bench) goPayload() *payload {
	if b.goP != nil {
		return b.goP
	}
	p := &payload{key: "go", label: "Go " + *goVersion, platform: "golang", version: *goVersion, dest: "/usr/local/go",
		run: "go version > /v", want: "go version go" + *goVersion + " ", wantFile: "bin/go"}
	b.layouts(p)
	tag := strings.Join(strings.Split(*goVersion, ".")[:2], ".") + "-bookworm"
	ref := golangLike(b.reg, "golanglike/golang", tag, filepath.Join(*benchDir, "www", p.tarball), *goVersion)
	p.copyFrom = strings.TrimPrefix(ref, b.reg+"/")
	ls, _ := manifestLayers(ref)
	p.copyLayer = ls[len(ls)-2].Digest.String() // the Go tree; the GOPATH layer is last
	var total int64
	for _, l := range ls {
		total += l.Size
	}
	logf("golang-like image %s: %d layers, %.0f MiB compressed", ref, len(ls), float64(total)/(1<<20))
	b.goP = p
	return p
}

func (b *bench) nodePayload() *payload {
	p := &payload{key: "node", label: "Node " + *nodeVersion, platform: "nodejs", version: *nodeVersion, dest: "/usr/local/node",
		wantFile: "bin/node"}
	b.layouts(p)
	// busybox cannot run Node's glibc binary: the step checks its size.
	size := nodeBinarySize(filepath.Join(*benchDir, "www", p.tarball))
	p.run = "wc -c < /usr/local/node/bin/node > /v"
	p.want = strconv.FormatInt(size, 10)
	return p
}

// layouts finds the payload's two images in the bench registry and puts
// its tarball (the tree layer's blob) on the file server.
func (b *bench) layouts(p *payload) {
	tag := "bookworm-" + p.version
	p.oryx = getSDK(b.reg, "oryx/"+p.platform+"-sdk", tag)
	p.oryx.inner = innerName(b.reg, p.oryx)
	p.tree = getSDK(b.reg, "tree/"+p.platform, tag)
	p.tarball = p.platform + "-" + p.version + ".tar.gz"
	fetchBlob(b.reg, p.tree.repo, p.tree.layer, filepath.Join(*benchDir, "www", p.tarball))
	p.tarSum = p.tree.layer
	logf("%s: Oryx layout %s (%.1f MiB layer holding %s), tree layout %s (%.1f MiB)", p.label,
		short(p.oryx.digest), float64(p.oryx.size)/(1<<20), p.oryx.inner, short(p.tree.digest), float64(p.tree.size)/(1<<20))
}

// alternative is one way of getting the SDK into the build stage.
type alternative struct {
	key, label string
	df         func(edit string) string
	tree       bool // its SDK comes from the tree layer (or the same tarball)
}

func (b *bench) alternatives(p *payload) []alternative {
	R := b.reg
	head := "FROM " + R + "/" + b.base + " AS b\n"
	tail := func(edit string) string {
		return "RUN " + p.run + " && " + edit + "\nFROM scratch\nCOPY --from=b /v /v\n"
	}
	path := "ENV PATH=" + p.dest + "/bin:$PATH\n"
	sdk := func(src string) func(string) string {
		return func(edit string) string {
			return "# syntax=" + R + "/" + b.sdkImg + "\n# sdk-source=" + R + "/" + src + "\n" + head +
				"SDK " + p.platform + "@" + p.version + " --to=" + p.dest + "\n" + tail(edit)
		}
	}
	stock := func(edit string) string {
		return head + "RUN --mount=from=" + R + "/" + p.oryx.repo + "@" + p.oryx.digest + ",target=/sdk mkdir -p " + p.dest +
			" && tar -xzf /sdk/" + p.oryx.inner + " -C " + p.dest + "\n" + path + tail(edit)
	}
	alts := []alternative{
		{"sdk-tar", "sdkfront, `SDK " + p.platform + "@" + p.version + "`, tarball layer", sdk("oryx/{platform}-sdk:{flavor}-{version}"), false},
		{"sdk-tree", "sdkfront, tree layer", sdk("tree/{platform}:{flavor}-{version}"), true},
		{"stock", "builtin frontend, `RUN --mount=from=…@sha256 tar -xzf`", stock, false},
		{"stockimg", "the same through the stock frontend image (`# syntax=`)", func(edit string) string {
			return "# syntax=" + R + "/" + b.stock + "\n" + stock(edit)
		}, false},
		{"stock-tree", "builtin frontend, `COPY --from=<tree image>@sha256 / " + p.dest + "/`", func(edit string) string {
			return head + "COPY --from=" + R + "/" + p.tree.repo + "@" + p.tree.digest + " / " + p.dest + "/\n" + path + tail(edit)
		}, true},
	}
	if p.copyFrom != "" {
		alts = append(alts, alternative{"copyfrom", "builtin frontend, `COPY --from=<golang-like image> /usr/local/go`", func(edit string) string {
			return head + "COPY --from=" + R + "/" + p.copyFrom + " /usr/local/go " + p.dest + "\n" + path + tail(edit)
		}, true})
	}
	alts = append(alts, alternative{"addunpack", "builtin frontend, `ADD --unpack=true --checksum=…` over loopback HTTP", func(edit string) string {
		return head + "ADD --unpack=true --checksum=" + p.tarSum + " http://" + b.files.host + "/" + p.tarball + " " + p.dest + "/\n" + path + tail(edit)
	}, true})
	return alts
}

func wantV(want string) func(dir string) error {
	return func(dir string) error {
		dt, err := os.ReadFile(filepath.Join(dir, "v"))
		if err != nil {
			return err
		}
		if !strings.Contains(string(dt), want) {
			return fmt.Errorf("/v is %q, want %q in it", dt, want)
		}
		return nil
	}
}

func rotate[T any](xs []T, n int) []T {
	if len(xs) == 0 {
		return xs
	}
	n %= len(xs)
	return append(append([]T(nil), xs[n:]...), xs[:n]...)
}

var nonce = time.Now().UnixNano()

func edit(round int) string { return fmt.Sprintf("echo edit-%d-%d > /dev/null", nonce, round) }

// coldSection: for each round, every alternative in turn (rotated each
// round): prune everything, build (cold), build again (warm), build with a
// later step edited; then every floor pipeline for both layouts.
func (b *bench) coldSection(p *payload) {
	alts := b.alternatives(p)
	sc := scope{registry: b.regLog, proxies: []*reqLog{&b.files.log},
		sdkBlobs: map[string]bool{p.oryx.layer: true, p.tree.layer: true},
		sdkPaths: map[string]bool{"/" + p.tarball: true}}
	if p.copyLayer != "" {
		sc.sdkBlobs[p.copyLayer] = true
	}
	pipes := floorPipes()
	type floorCase struct {
		pipe   floorPipe
		layout string
	}
	var floors []floorCase
	for _, fp := range pipes {
		floors = append(floors, floorCase{fp, "tar"}, floorCase{fp, "tree"})
	}
	for round := range *runs {
		for _, a := range rotate(alts, round) {
			logf("%s round %d/%d: %s", p.label, round+1, *runs, a.key)
			prj := newProject(p.key+"-"+a.key, map[string]string{"Dockerfile": a.df("true")})
			b.prune()
			chk := wantV(p.want)
			b.res.add(p.key, a.key, "cold", b.build(prj, sc, chk))
			b.res.add(p.key, a.key, "warm", b.build(prj, sc, chk))
			ed := newProject(p.key+"-"+a.key+"-edited", map[string]string{"Dockerfile": a.df(edit(round))})
			b.res.add(p.key, a.key, "edited", b.build(ed, sc, chk))
		}
		for _, f := range rotate(floors, round) {
			url, inner := "http://"+b.reg+"/v2/"+p.tree.repo+"/blobs/"+p.tree.layer, ""
			if f.layout == "tar" {
				url, inner = "http://"+b.reg+"/v2/"+p.oryx.repo+"/blobs/"+p.oryx.layer, p.oryx.inner
			}
			secs := runFloor(f.pipe, url, inner, p.wantFile)
			b.res.add(p.key, "floor-"+f.layout+"/"+f.pipe.name, "cold", sample{secs: secs})
		}
	}
}

// overheadSection: a Dockerfile without SDK lines, 15 instructions in three
// stages, fully cached, through sdkfront, the stock frontend image and the
// builtin frontend.
func (b *bench) overheadSection() {
	R := b.reg
	body := "FROM " + R + "/" + b.base + " AS a\nARG X=1\nENV A=1\nWORKDIR /w\nRUN echo a > a\nCOPY f /w/f\n" +
		"FROM " + R + "/" + b.base + " AS b\nENV B=2\nRUN echo b > /b\nCOPY --from=a /w/a /c/a\nLABEL x=y\n" +
		"FROM scratch\nCOPY --from=b /b /v\nCOPY --from=a /w /w\nENV C=3\n"
	if n := strings.Count(body, "\n"); n != 15 {
		fail(fmt.Sprintf("the overhead Dockerfile has %d instructions, not 15", n))
	}
	cases := []struct{ key, syntax string }{
		{"sdkfront", "# syntax=" + R + "/" + b.sdkImg + "\n"},
		{"stockimg", "# syntax=" + R + "/" + b.stock + "\n"},
		{"builtin", ""},
	}
	sc := scope{registry: b.regLog}
	prjs := map[string]project{}
	for _, c := range cases {
		prjs[c.key] = newProject(c.key, map[string]string{"Dockerfile": c.syntax + body, "f": "f\n"})
		b.build(prjs[c.key], sc, wantV("b"))
	}
	for round := range *warmRuns {
		logf("overhead round %d/%d", round+1, *warmRuns)
		for _, c := range rotate(cases, round) {
			b.res.add("overhead", c.key, "warm", b.build(prjs[c.key], sc, wantV("b")))
		}
	}
}

// wanSection: warm rebuilds through the latency proxy, with every registry
// request counted from its log.
func (b *bench) wanSection() {
	W := b.wan.host
	head := "# syntax=" + W + "/" + b.sdkImg + "\n# sdk-source=" + W + "/big/{platform}:{flavor}-{version}\nFROM " + W + "/" + b.base + " AS b\n"
	tail := "RUN go version > /v\nFROM scratch\nCOPY --from=b /v /v\n"
	one := func(ref string) string { return head + "SDK " + ref + " --to=/usr/local/go\n" + tail }
	const partial = "1.23"
	// The lock for golang@1.23: the tag the partial version resolves to.
	newest := fmt.Sprintf("bookworm-1.23.%d", 19)
	locked := getSDK(b.reg, "big/golang", newest)
	lf := lock.File{SDKs: []lock.Entry{{
		Key:     lock.Key{Ref: "golang@" + partial, Flavor: "bookworm", Source: W + "/big/{platform}:{flavor}-{version}"},
		Version: strings.TrimPrefix(newest, "bookworm-"), Repository: W + "/big/golang", Tag: newest,
		Digest:    digest.Digest(locked.digest),
		Platforms: map[string]digest.Digest{"linux/" + ociimage.HostPlatform().Architecture: digest.Digest(locked.digest)},
	}}}
	fan5 := head + "SDK golang@" + *goVersion + " --to=/usr/local/go\nSDK golang@1.22.4 --to=/opt/go122\nSDK golang@1.21.4 --to=/opt/go121\n" +
		"SDK golang@1.20.4 --to=/opt/go120\nSDK nodejs@" + *nodeVersion + " --to=/opt/node\n" + tail
	plat := "# syntax=" + W + "/" + b.sdkImg + "\n# sdk-source=" + W + "/multi/{platform}:{flavor}-{version}\n" +
		"FROM scratch AS s\nSDK tool@1.0.0 --to=/sdk\nFROM scratch\nCOPY --from=s /sdk/bin/tool /v\n"
	other := "arm64"
	if ociimage.HostPlatform().Architecture == "arm64" {
		other = "amd64"
	}
	host := "linux/" + ociimage.HostPlatform().Architecture
	goV := wantV("go version go" + *goVersion + " ")
	cases := []struct {
		key   string
		files map[string]string
		opts  []string
		check func(string) error
	}{
		{"exact", map[string]string{"Dockerfile": one("golang@" + *goVersion)}, nil, goV},
		{"partial", map[string]string{"Dockerfile": one("golang@" + partial)}, nil, goV},
		{"default", map[string]string{"Dockerfile": one("golang@default")}, nil, goV},
		{"locked", map[string]string{"Dockerfile": one("golang@" + partial), "Dockerfile.sdk.lock": string(lf.Marshal())}, nil, goV},
		{"fan5", map[string]string{"Dockerfile": fan5}, nil, goV},
		{"plat1", map[string]string{"Dockerfile": plat}, []string{"--opt", "platform=" + host}, versions(1)},
		{"plat2", map[string]string{"Dockerfile": plat}, []string{"--opt", "platform=" + host + ",linux/" + other}, versions(2)},
	}
	sc := scope{proxies: []*reqLog{&b.wan.log}}
	prjs := map[string]project{}
	for _, c := range cases {
		logf("WAN: priming %s (cold, through the proxy)", c.key)
		prjs[c.key] = newProject(c.key, c.files, c.opts...)
		b.res.add("wan", c.key, "cold", b.build(prjs[c.key], sc, c.check))
	}
	for round := range *warmRuns {
		logf("WAN round %d/%d", round+1, *warmRuns)
		for _, c := range rotate(cases, round) {
			b.res.add("wan", c.key, "warm", b.build(prjs[c.key], sc, c.check))
		}
	}
}

// versions checks that n platforms each got /v, the tool of their own
// architecture.
func versions(n int) func(string) error {
	return func(dir string) error {
		var found int
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "v" {
				return err
			}
			dt, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			plat := filepath.Base(filepath.Dir(p)) // linux_arm64 for several platforms
			if !strings.Contains(string(dt), "tool 1.0.0 linux/") || (strings.HasPrefix(plat, "linux_") && !strings.Contains(string(dt), strings.ReplaceAll(plat, "_", "/"))) {
				return fmt.Errorf("%s is %q", p, dt)
			}
			found++
			return nil
		})
		if err == nil && found != n {
			err = fmt.Errorf("%d platforms in the output, want %d", found, n)
		}
		return err
	}
}

// memorySection: the frontend's peak RSS resolving a partial version
// against 2,004 tags (the real repository) and 200,000 (synthesized by the
// loopback proxy), and the stock frontend's on the hand-written Dockerfile.
func (b *bench) memorySection() {
	L := b.lan.host
	df := func(src string) string {
		return "# syntax=" + b.reg + "/" + b.sdkImg + "\n# sdk-source=" + L + "/" + src + "\nFROM " + b.reg + "/" + b.base + " AS b\n" +
			"SDK golang@1.23 --to=/usr/local/go\nRUN go version > /v\nFROM scratch\nCOPY --from=b /v /v\n"
	}
	p := b.goPayload()
	stockAlt := b.alternatives(p)[3] // stockimg
	cases := []struct{ key, df string }{
		{"tags2k", df("big/{platform}:{flavor}-{version}")},
		{"tags200k", df("huge/{platform}:{flavor}-{version}")},
		{"stockimg", stockAlt.df("true")},
	}
	goV := wantV("go version go" + *goVersion + " ")
	sc := scope{proxies: []*reqLog{&b.lan.log}, registry: b.regLog, memory: true}
	prjs := map[string]project{}
	for _, c := range cases {
		logf("memory: priming %s", c.key)
		prjs[c.key] = newProject(c.key, map[string]string{"Dockerfile": c.df})
		b.build(prjs[c.key], scope{}, goV)
	}
	for round := range *memRuns {
		logf("memory round %d/%d", round+1, *memRuns)
		for _, c := range rotate(cases, round) {
			b.res.add("memory", c.key, "warm", b.build(prjs[c.key], sc, goV))
		}
	}
}

func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

// nodeBinarySize is the size of bin/node in a gzipped tree tarball.
func nodeBinarySize(tgz string) int64 {
	f, err := os.Open(tgz)
	check(err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	check(err)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		check(err)
		if strings.TrimPrefix(h.Name, "./") == "bin/node" {
			return h.Size
		}
	}
}

// pprofSection profiles the frontend (lab/bench/pprof, pushed as
// sdkfront:pprof) over warm rebuilds: exact and partial versions through
// the WAN proxy, and a partial version against 200,000 tags over loopback.
// Each case's profiles are merged and summarized with `go tool pprof -top`.
func (b *bench) pprofSection() {
	bin := filepath.Join(*benchDir, "sdkfront-pprof")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s=false", "-tags", "netgo osusergo static_build", "-o", bin, "./lab/bench/pprof")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	check(cmd.Run())
	imagepack("frontend", "-binary", bin, "-image", b.reg+"/sdkfront:pprof")
	dir := filepath.Join(*benchDir, "out", "pprof")
	os.RemoveAll(dir)
	check(os.MkdirAll(dir, 0o755))
	df := func(host, src, ref string) string {
		return "# syntax=" + b.reg + "/sdkfront:pprof\n# sdk-source=" + host + "/" + src + "\nFROM " + b.reg + "/" + b.base + " AS b\n" +
			"SDK " + ref + " --to=/usr/local/go\nRUN go version > /v\nFROM scratch\nCOPY --from=b /v /v\n"
	}
	cases := []struct{ key, df string }{
		{"wan-exact", df(b.wan.host, "big/{platform}:{flavor}-{version}", "golang@"+*goVersion)},
		{"wan-partial", df(b.wan.host, "big/{platform}:{flavor}-{version}", "golang@1.23")},
		{"tags200k", df(b.lan.host, "huge/{platform}:{flavor}-{version}", "golang@1.23")},
	}
	goV := wantV("go version go" + *goVersion + " ")
	n := max(*memRuns, 3)
	for _, c := range cases {
		prj := newProject("memory-"+c.key, map[string]string{"Dockerfile": c.df})
		b.build(prj, scope{}, goV)
		for i := range n {
			url := fmt.Sprintf("http://%s/pprof/%s-%d", b.files.host, c.key, i)
			p := prj
			p.opts = []string{"--opt", "build-arg:SDKFRONT_BENCH_PPROF=" + url}
			b.res.add("pprof", c.key, "warm", b.build(p, scope{}, goV))
		}
	}
	b.pprofDir = dir
}
