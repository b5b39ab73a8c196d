package main

// Stand-in images for the docker.io images that BuildKit's suite mirrors, and
// the seeding of the mirror registry's storage with them, so that the suite
// never pulls from the internet.
//
// integration.Run starts `registry serve DIR/config.yaml` (DIR is
// BUILDKIT_REGISTRY_MIRROR_DIR, storage in DIR/data) and copies each image it
// mirrors only if DIR's registry does not have it yet. Every test group
// mirrors library/busybox:latest, library/alpine:latest and
// library/busybox:stable-musl; some tests use busybox:stable; the security
// group adds tonistiigi/hellofs:latest and the repro group
// amd64/debian:bullseye-20230109-slim. A copy that fails fails every test of
// its group, so all of them are seeded.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// standins are POSIX-sh adduser/addgroup/deluser/delgroup: Debian's
// busybox-static is built without these applets, which the official busybox
// and alpine images have (TestCopyChown*, TestCopyHeredoc, TestWorkdirUser,
// TestWorkdirExists use them).
//
//go:embed standin
var standins embed.FS

// imagesFormat is part of the mirror seed's key; bump it when the images change.
const imagesFormat = "compat-images-v1"

// standinTime is the fixed timestamp of every file and config.
var standinTime = time.Unix(1690000000, 0).UTC()

const stdPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// mirrored lists what is pushed into the mirror: repository:tag -> stand-in.
var mirrored = []struct{ ref, image string }{
	{"library/busybox:latest", "busybox"},
	{"library/busybox:stable", "busybox"},
	{"library/busybox:stable-musl", "busybox"},
	{"library/alpine:latest", "alpine"},
	// placeholders, so that their test groups can start at all; the few tests
	// that really use them are excluded from the subset (see subset.txt)
	{"tonistiigi/hellofs:latest", "busybox"},
	{"amd64/debian:bullseye-20230109-slim", "busybox"},
}

// rootfs builds file systems, adding missing parent directories.
type rootfs struct {
	entries []ociimage.Entry
	seen    map[string]bool
}

func newRootfs() *rootfs { return &rootfs{seen: map[string]bool{}} }

func (r *rootfs) add(e ociimage.Entry) {
	clean := strings.TrimSuffix(e.Name, "/")
	if parent := path.Dir(clean); parent != "." && !r.seen[parent] {
		r.add(ociimage.Dir(parent, 0o755))
	}
	if r.seen[clean] {
		return // first one wins (explicit modes before implicit parents)
	}
	r.seen[clean] = true
	r.entries = append(r.entries, e)
}

// textFile is a regular file of text (the stand-ins' /etc).
func textFile(name string, mode int64, body string) ociimage.Entry {
	return ociimage.File(name, mode, []byte(body))
}

// busyboxApplets runs `busybox --list-full`: paths such as "bin/ls", "usr/bin/awk".
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", busybox, err)
	}
	var paths []string
	for _, p := range strings.Fields(string(out)) {
		p = strings.TrimPrefix(p, "/")
		if p != "" && p != "bin/busybox" {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s --list-full: no applets", busybox)
	}
	return paths, nil
}

func standinScripts() (map[string][]byte, error) {
	ents, err := standins.ReadDir("standin")
	if err != nil {
		return nil, err
	}
	m := map[string][]byte{}
	for _, e := range ents {
		b, err := standins.ReadFile("standin/" + e.Name())
		if err != nil {
			return nil, err
		}
		m[e.Name()] = b
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// busyboxRootfs mimics the docker-library busybox image: every applet is a
// hard link of /bin/busybox, users and groups as in buildroot (including
// the group nobody, which TestCopyChown needs).
func busyboxRootfs(bin []byte, applets []string, scripts map[string][]byte) *rootfs {
	r := newRootfs()
	for _, d := range []string{"bin", "dev", "etc", "home", "usr/sbin", "var/spool/mail", "var/www"} {
		r.add(ociimage.Dir(d, 0o755))
	}
	r.add(ociimage.Dir("root", 0o700))
	r.add(ociimage.Dir("tmp", 0o1777))
	r.add(ociimage.File("bin/busybox", 0o755, bin))
	names := map[string]bool{}
	for _, p := range applets {
		names[path.Base(p)] = true
	}
	for _, a := range sortedKeys(names) {
		if _, ok := scripts[a]; ok || a == "busybox" {
			continue
		}
		r.add(ociimage.Hardlink("bin/"+a, 0o755, "bin/busybox"))
	}
	for _, s := range sortedKeys(scripts) {
		r.add(ociimage.File("bin/"+s, 0o755, scripts[s]))
	}
	r.add(textFile("etc/passwd", 0o644, busyboxPasswd))
	r.add(textFile("etc/group", 0o644, busyboxGroup))
	r.add(textFile("etc/shadow", 0o600, shadowOf(busyboxPasswd, "*:10933:0:99999:7:::", "root::10933:0:99999:7:::")))
	r.add(textFile("etc/nsswitch.conf", 0o644, "hosts: files dns\nnetworks: files\n"))
	return r
}

// alpineRootfs is the same busybox with Alpine 3.18's layout: applet
// symlinks where Alpine has them, /etc/alpine-release, /etc/os-release and
// Alpine's users and groups. It has no apk and no musl.
func alpineRootfs(bin []byte, applets []string, scripts map[string][]byte) *rootfs {
	r := newRootfs()
	for _, d := range []string{"bin", "dev", "etc/apk", "home", "lib", "media/cdrom", "media/floppy", "media/usb",
		"mnt", "opt", "proc", "run", "sbin", "srv", "sys", "usr/bin", "usr/sbin", "usr/lib", "usr/local/bin",
		"usr/local/lib", "usr/local/share", "usr/share", "var/cache", "var/empty", "var/lib", "var/local",
		"var/lock", "var/log", "var/mail", "var/opt", "var/run", "var/spool"} {
		r.add(ociimage.Dir(d, 0o755))
	}
	r.add(ociimage.Dir("root", 0o700))
	r.add(ociimage.Dir("tmp", 0o1777))
	r.add(ociimage.Dir("var/tmp", 0o1777))
	r.add(ociimage.File("bin/busybox", 0o755, bin))
	for _, p := range applets {
		if _, ok := scripts[path.Base(p)]; ok {
			continue
		}
		r.add(ociimage.Symlink(p, "/bin/busybox"))
	}
	for _, s := range sortedKeys(scripts) {
		r.add(ociimage.File("usr/sbin/"+s, 0o755, scripts[s]))
	}
	r.add(textFile("etc/alpine-release", 0o644, "3.18.4\n"))
	r.add(textFile("etc/os-release", 0o644, `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18 (offline stand-in built from busybox-static)"
`))
	r.add(textFile("etc/apk/arch", 0o644, "x86_64\n"))
	r.add(textFile("etc/passwd", 0o644, alpinePasswd))
	r.add(textFile("etc/group", 0o644, alpineGroup))
	r.add(textFile("etc/shadow", 0o640, shadowOf(alpinePasswd, "!::0:::::", "root:*::0:::::")))
	r.add(textFile("etc/hostname", 0o644, "localhost\n"))
	r.add(textFile("etc/shells", 0o644, "/bin/sh\n/bin/ash\n"))
	return r
}

// shadowOf gives every user of passwd the shadow fields rest, and root rootLine.
func shadowOf(passwd, rest, rootLine string) string {
	var b strings.Builder
	for _, ln := range strings.Split(strings.TrimSpace(passwd), "\n") {
		user, _, _ := strings.Cut(ln, ":")
		if user == "root" {
			b.WriteString(rootLine + "\n")
		} else {
			b.WriteString(user + ":" + rest + "\n")
		}
	}
	return b.String()
}

// standinImage is a one-layer OCI image of r, stamped standinTime.
func standinImage(r *rootfs, cfg v1.Config, comment string) (v1.Image, error) {
	layer, err := ociimage.NewBlob(ociimage.EntriesAt(standinTime, r.entries...))
	if err != nil {
		return nil, err
	}
	spec := ociimage.Spec{Platform: ociimage.HostPlatform(), Created: standinTime, CreatedBy: comment, Config: cfg}
	return spec.Image(layer.Layer())
}

// standinImages builds the busybox and alpine stand-ins from a static busybox.
func standinImages(busybox string) (map[string]v1.Image, string, error) {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return nil, "", err
	}
	applets, err := busyboxApplets(busybox)
	if err != nil {
		return nil, "", err
	}
	scripts, err := standinScripts()
	if err != nil {
		return nil, "", err
	}
	// the seed's key: everything the images are made of
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", imagesFormat, runtime.GOARCH)
	h.Write(bin)
	for _, s := range sortedKeys(scripts) {
		fmt.Fprintf(h, "\n%s\n", s)
		h.Write(scripts[s])
	}
	key := hex.EncodeToString(h.Sum(nil))

	bb, err := standinImage(busyboxRootfs(bin, applets, scripts),
		v1.Config{Env: []string{stdPath}, Cmd: []string{"sh"}},
		"offline stand-in for busybox: Debian busybox-static")
	if err != nil {
		return nil, "", err
	}
	al, err := standinImage(alpineRootfs(bin, applets, scripts),
		v1.Config{Env: []string{stdPath}, Cmd: []string{"/bin/sh"}},
		"offline stand-in for alpine 3.18: Debian busybox-static")
	if err != nil {
		return nil, "", err
	}
	return map[string]v1.Image{"busybox": bb, "alpine": al}, key, nil
}

// seedMirror fills dir/data with the stand-in images, through a registry
// started on it for the purpose. dir/.seeded holds the key of what was
// seeded; when it matches, nothing is done.
func seedMirror(ctx context.Context, dir, busybox, regBin string, log io.Writer) error {
	imgs, key, err := standinImages(busybox)
	if err != nil {
		return err
	}
	stamp := filepath.Join(dir, ".seeded")
	if raw, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(raw)) == key {
		fmt.Fprintf(log, "compat: mirror seed %s is up to date\n", dir)
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	host, stop, err := startRegistry(ctx, regBin, filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer stop()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authn.Anonymous)}
	for _, m := range mirrored {
		t, err := name.NewTag(host+"/"+m.ref, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Write(t, imgs[m.image], opts...); err != nil {
			return fmt.Errorf("push %s: %w", t, err)
		}
		d, _ := imgs[m.image].Digest()
		fmt.Fprintf(log, "compat: seeded %s (%s stand-in, %s)\n", m.ref, m.image, d)
	}
	stop()
	return os.WriteFile(stamp, []byte(key+"\n"), 0o644)
}

var listeningRE = regexp.MustCompile(`listening on 127\.0\.0\.1:(\d+)`)

// startRegistry runs `regBin serve` on storage root with a random loopback
// port (as the suite's integration.NewRegistry does) and returns its host.
func startRegistry(ctx context.Context, regBin, root string) (host string, stop func(), err error) {
	cfgDir, err := os.MkdirTemp("", "compat-registry")
	if err != nil {
		return "", nil, err
	}
	cfg := filepath.Join(cfgDir, "config.yaml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:0\n", root)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(regBin, "serve", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logBuf bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		os.RemoveAll(cfgDir)
		return "", nil, fmt.Errorf("start %s: %w", regBin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = pw.Close(); close(done) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		defer os.RemoveAll(cfgDir)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			if !sent {
				logBuf.Write(sc.Bytes())
				logBuf.WriteByte('\n')
				if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
					found <- m[1]
					sent = true
				}
			}
		}
		close(found)
	}()
	select {
	case port, ok := <-found:
		if ok {
			return "127.0.0.1:" + port, stop, nil
		}
		stop()
		return "", nil, fmt.Errorf("%s exited before listening:\n%s", regBin, logBuf.String())
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, fmt.Errorf("%s did not report its port within 20s", regBin)
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	}
}

// the users and groups of the official images

const busyboxPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`

const busyboxGroup = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
`

const alpinePasswd = `root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
`

const alpineGroup = `root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
cdrw:x:80:
www-data:x:82:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
locate:x:245:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
`
