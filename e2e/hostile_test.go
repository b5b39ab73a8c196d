package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar entry of a hand-made (hostile) SDK tarball.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body}
}

func rawTarGz(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.hdr
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushLayer pushes an SDK image whose one layer is layer (a tar.gz), with
// the given foreign URLs on its descriptor, and returns the layer digest.
func pushLayer(t *testing.T, repoTag string, layer []byte, urls ...string) string {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, URLs: urls, MediaType: types.OCILayer})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(lab.registry+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// sdkLayer is a seeds-layout layer: sdk.tar.gz holding inner.
func sdkLayer(t *testing.T, inner []byte) []byte {
	return rawTarGz(t, []entry{file("sdk.tar.gz", string(inner))})
}

// tree lists the paths of a local export, with the link target of each
// symlink and the mode of anything but a plain file or directory.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		desc := info.Mode().Type().String()
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		if info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			desc += " " + info.Mode().String()
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestForeignLayerURLs: a layer that names foreign URLs is refused unless
// the build arg allows their host; allowed, buildkitd fetches it there and
// still checks its digest.
func TestForeignLayerURLs(t *testing.T) {
	layer := sdkLayer(t, tarGz(t, map[string]string{"bin/tool": "foreign " + time.Now().String() + "\n"}))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(layer)
	}))
	defer srv.Close()
	pushLayer(t, "sdks/foreign:bookworm-1.0.0", layer, srv.URL+"/layer.tgz")
	df := header("FROM scratch\nSDK foreign@1.0.0 --to=/sdk\n")
	dir := project(t, df, map[string]string{})

	r := buildctl(t, dir).mustFail(t)
	for _, w := range []string{"carries foreign URLs (" + srv.URL + "/layer.tgz)", "SDK_ALLOW_FOREIGN_URLS", "Dockerfile:4", ">>> SDK foreign@1.0.0"} {
		if !strings.Contains(r.err, w) {
			t.Errorf("output lacks %q:\n%s", w, tail(r.err, 20))
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the foreign URL was fetched although the build was refused")
	}

	u, _ := url.Parse(srv.URL)
	r = buildctl(t, dir, "--opt", "build-arg:SDK_ALLOW_FOREIGN_URLS="+u.Hostname()).mustSucceed(t)
	if got := r.file(t, "sdk/bin/tool"); !strings.HasPrefix(got, "foreign ") {
		t.Errorf("sdk/bin/tool = %q", got)
	}
	if hits.Load() == 0 {
		t.Errorf("allowed, buildkitd did not fetch from the foreign URL (or took the registry's copy)")
	}
}

// TestTamperedBlobFails: a registry that serves a layer whose bytes do not
// hash to its digest fails the build with BuildKit's digest error; nothing
// of it is used.
func TestTamperedBlobFails(t *testing.T) {
	layer := sdkLayer(t, tarGz(t, map[string]string{"bin/tool": "tamper " + time.Now().String() + "\n"}))
	dgst := pushLayer(t, "sdks/tamper:bookworm-1.0.0", layer)
	target, _ := url.Parse("http://" + lab.registry)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var tampered atomic.Int32
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method != http.MethodGet || !strings.HasSuffix(resp.Request.URL.Path, "/blobs/"+dgst) {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body.Close()
		body[len(body)/2] ^= 0xff
		tampered.Add(1)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	df := "# syntax=" + lab.frontend + "\n# sdk-source=" + host + "/sdks/{platform}:{flavor}-{version}\nFROM " + lab.registry + "/lab/busybox\nSDK tamper@1.0.0 --to=/sdk\nRUN cat /sdk/bin/tool > /out\n"
	r := buildctl(t, project(t, df, map[string]string{})).mustFail(t)
	if tampered.Load() == 0 {
		t.Fatalf("the proxy never served the layer:\n%s", tail(r.err, 20))
	}
	t.Logf("%s", tail(r.err, 3))
	if !strings.Contains(r.err, "digest") || !strings.Contains(r.err, dgst) {
		t.Errorf("the failure is not BuildKit's digest error for %s:\n%s", dgst, tail(r.err, 20))
	}
	if strings.Contains(r.err, "] RUN cat") && strings.Contains(r.err, "DONE") && !strings.Contains(r.err, "ERROR") {
		t.Errorf("a RUN step used the layer")
	}
}

// hostileCases are SDK tarballs that try to write outside the SDK's
// directory, or carry what an SDK should not.
var hostileCases = []struct {
	name    string
	entries []entry
}{
	{"dotdot", []entry{file("bin/ok", "ok\n"), file("../escape-dotdot.txt", "x"), file("../../../../../tmp/escape-deep.txt", "x")}},
	{"absolute", []entry{file("bin/ok", "ok\n"), file("/escape-abs.txt", "x"), file("/etc/escape-abs-etc.txt", "x")}},
	{"symlink out then through", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "etclink", Typeflag: tar.TypeSymlink, Linkname: "/etc", Mode: 0o777}},
		file("etclink/escape-through-symlink.txt", "x")}},
	{"symlink up then through", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: "../../../..", Mode: 0o777}},
		file("up/escape-through-up.txt", "x")}},
	{"absolute symlink left", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "/bin/busybox", Mode: 0o777}}}},
	{"hardlink out", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}}},
	{"hardlink up", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "../../../etc/shadow"}}}},
	{"device and setuid", []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "dev/mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666}},
		{hdr: tar.Header{Name: "bin/suid", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 2}, body: "x\n"}}},
}

// TestHostileSDKContent: whatever an SDK tarball holds, nothing lands
// outside the SDK's directory of the stage, and the build either
// succeeds with the SDK contained or fails with an error at its line.
func TestHostileSDKContent(t *testing.T) {
	baseDir := project(t, "FROM "+lab.registry+"/lab/busybox AS b\nRUN true\nFROM scratch\nCOPY --from=b / /\n", map[string]string{})
	base := tree(t, buildctl(t, baseDir).mustSucceed(t).outDir)
	for i, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			version := fmt.Sprintf("1.%d.%s", i, time.Now().Format("150405")) // a fresh image each run
			pushLayer(t, "sdks/hostile:bookworm-"+version, sdkLayer(t, rawTarGz(t, c.entries)))
			df := header("FROM " + lab.registry + "/lab/busybox AS b\nSDK hostile@" + version + " --to=/opt/sdk\nRUN /opt/sdk/bin/ok 2>/dev/null; true\nFROM scratch\nCOPY --from=b / /\n")
			r := buildctl(t, project(t, df, map[string]string{}))
			t.Logf("%s: failed=%v\n%s", c.name, r.failed, tail(r.err, 6))
			if r.failed != nil {
				for _, w := range []string{"Dockerfile:4", ">>> SDK hostile@" + version, "SDK hostile@" + version + ": unpacking " + lab.registry + "/sdks/hostile@sha256:",
					"outside that directory fails like this. The SDK image is malformed or hostile"} {
					if !strings.Contains(r.err, w) {
						t.Errorf("the failure does not point at the SDK line (%q):\n%s", w, tail(r.err, 20))
					}
				}
				return
			}
			got := tree(t, r.outDir)
			for _, p := range keys(got) {
				if p == "opt" || p == "opt/sdk" || strings.HasPrefix(p, "opt/sdk/") {
					continue
				}
				if want, ok := base[p]; !ok || want != got[p] {
					t.Errorf("%s: %q (%s) outside /opt/sdk differs from the base image (%q)", c.name, p, got[p], want)
				}
			}
			var sdk []string
			for _, p := range keys(got) {
				if strings.HasPrefix(p, "opt/sdk/") {
					sdk = append(sdk, p+" "+got[p])
				}
			}
			t.Logf("%s: the SDK directory holds %v", c.name, sdk)
		})
	}
}

// TestHostileSDKMount: an sdk mount unpacks the same way, and a hard link
// out of the tarball fails at the RUN line with the same explanation; the
// mount's unpacking op is keyed by the image's digest (llb.Fuse), and the
// error still finds its SDK.
func TestHostileSDKMount(t *testing.T) {
	version := "9.0." + time.Now().Format("150405")
	pushLayer(t, "sdks/hostile:bookworm-"+version, sdkLayer(t, rawTarGz(t, []entry{file("bin/ok", "ok\n"),
		{hdr: tar.Header{Name: "passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}})))
	df := header("FROM " + lab.registry + "/lab/busybox\nRUN --mount=type=sdk,ref=hostile@" + version + ",target=/opt/sdk /opt/sdk/bin/ok > /out\n")
	r := buildctl(t, project(t, df, map[string]string{}))
	if r.failed == nil {
		t.Fatal("the build succeeded with a hard link out of the SDK")
	}
	for _, w := range []string{"Dockerfile:4", ">>> RUN --mount=type=sdk,ref=hostile@" + version, "hostile@" + version + ": unpacking " + lab.registry + "/sdks/hostile@sha256:",
		"outside that directory fails like this. The SDK image is malformed or hostile"} {
		if !strings.Contains(r.err, w) {
			t.Errorf("the failure does not say %q:\n%s", w, tail(r.err, 20))
		}
	}
}

// TestSDKDeviceNodesAreUnusable: a device node an SDK ships lands in its
// directory, but a RUN step cannot open it: runc's device cgroup denies it.
func TestSDKDeviceNodesAreUnusable(t *testing.T) {
	version := "2.0." + time.Now().Format("150405")
	pushLayer(t, "sdks/hostile:bookworm-"+version, sdkLayer(t, rawTarGz(t, []entry{
		{hdr: tar.Header{Name: "dev/mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666}},
	})))
	df := header("FROM " + lab.registry + "/lab/busybox AS b\nSDK hostile@" + version + " --to=/opt/sdk\n" +
		"RUN mkdir /out && (head -c 16 /opt/sdk/dev/mem > /out/read 2> /out/err; echo $? > /out/rc)\nFROM scratch\nCOPY --from=b /out /\n")
	r := buildctl(t, project(t, df, map[string]string{})).mustSucceed(t)
	if rc := strings.TrimSpace(r.file(t, "rc")); rc == "0" {
		t.Errorf("a RUN step read the SDK's /dev/mem node (%d bytes)", len(r.file(t, "read")))
	}
	if msg := r.file(t, "err"); !strings.Contains(msg, "Operation not permitted") {
		t.Errorf("reading the device failed with %q, want EPERM from the device cgroup", msg)
	}
}

// TestSeveralTarballsInOneLayer: the documented rule: every archive at
// the layer's root is unpacked into the SDK's directory, and any other
// file is copied as it is.
func TestSeveralTarballsInOneLayer(t *testing.T) {
	version := "1.0." + time.Now().Format("150405")
	layer := rawTarGz(t, []entry{
		file("a.tar.gz", string(tarGz(t, map[string]string{"bin/a": "a\n"}))),
		file("b.tgz", string(tarGz(t, map[string]string{"bin/b": "b\n"}))),
		file("README", "read me\n"),
	})
	pushLayer(t, "sdks/several:bookworm-"+version, layer)
	r := buildctl(t, project(t, header("FROM scratch\nSDK several@"+version+" --to=/sdk\n"), map[string]string{})).mustSucceed(t)
	for name, want := range map[string]string{"sdk/bin/a": "a\n", "sdk/bin/b": "b\n", "sdk/README": "read me\n"} {
		if got := r.file(t, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// gzipBomb is a gzipped tarball of one file, bin/zeros, of size zero bytes
// (a multiple of 1 MiB), a few MB in all. It is a multi-member gzip stream
// (RFC 1952, 2.2), as gzip and every gzip reader read it: the tar header,
// then the same member of 1 MiB of zeros, deflated once, size/1 MiB times,
// then the tar's end. Deflating 3 GiB, as one member, takes minutes under
// the race detector; the bytes a reader inflates are the same tarball.
func gzipBomb(size int64) (*bytes.Buffer, error) {
	member := func(p []byte) ([]byte, error) {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(p); err != nil {
			return nil, err
		}
		err := zw.Close()
		return b.Bytes(), err
	}
	var hdr bytes.Buffer
	if err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Name: "bin/zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: time.Unix(1700000000, 0)}); err != nil {
		return nil, err
	}
	head, err := member(hdr.Bytes())
	if err != nil {
		return nil, err
	}
	zeros, err := member(make([]byte, 1<<20))
	if err != nil {
		return nil, err
	}
	end, err := member(make([]byte, 1024)) // a tar ends with two zero blocks
	if err != nil {
		return nil, err
	}
	out := bytes.NewBuffer(head)
	for range size >> 20 {
		out.Write(zeros)
	}
	out.Write(end)
	return out, nil
}

// TestGzipBomb: an SDK tarball that inflates from a few MB to 3 GiB is
// unpacked, into its directory only, in bounded time. It runs on a daemon
// of its own, whose root is removed afterwards.
func TestGzipBomb(t *testing.T) {
	const size = 3 << 30
	inner, err := gzipBomb(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the inner tarball is %d bytes for %d bytes of content", inner.Len(), size)
	version := "1.0." + time.Now().Format("150405")
	pushLayer(t, "sdks/bomb:bookworm-"+version, sdkLayer(t, inner.Bytes()))

	addr := daemon(t)
	df := header("FROM " + lab.registry + "/lab/busybox AS b\nSDK bomb@" + version + " --to=/opt/sdk\n" +
		"RUN mkdir /out && stat -c %s /opt/sdk/bin/zeros > /out/size && ls / > /out/root\nFROM scratch\nCOPY --from=b /out /\n")
	dir := project(t, df, map[string]string{})
	out := t.TempDir()
	start := time.Now()
	r := run(t, out, bin("buildctl"), "--addr", addr, "build", "--frontend", "dockerfile.v0",
		"--local", "context="+dir, "--local", "dockerfile="+dir, "--output", "type=local,dest="+out).mustSucceed(t)
	took := time.Since(start)
	t.Logf("built in %s", took)
	if got := strings.TrimSpace(r.file(t, "size")); got != fmt.Sprint(size) {
		t.Errorf("bin/zeros is %s bytes, want %d", got, size)
	}
	if got := r.file(t, "root"); strings.Contains(got, "zeros") {
		t.Errorf("the bomb's content reached the stage's root:\n%s", got)
	}
	if took > 3*time.Minute {
		t.Errorf("unpacking took %s", took)
	}
}
