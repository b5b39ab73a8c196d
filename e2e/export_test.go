package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exportTimeout bounds each export of TestExportGoToolchain: both take
// seconds, so a hang fails the test instead of stalling the suite.
const exportTimeout = 3 * time.Minute

// TestExportGoToolchain exports a FROM scratch stage holding the real Go
// toolchain (about 11k files) to a tarball and to a local directory, each
// within exportTimeout, and requires both to hold the same tree: names,
// types, modes, sizes and link targets.
//
// The local export goes through the session's filesync (fsutil's DiffCopy)
// and can deadlock in BuildKit itself (moby/buildkit#2950): the client sends
// one request per file; once the daemon stops reading them (its send queue
// is full) and 64 KiB of them wait, the client's HTTP/2 server queues its
// flow-control window updates behind those requests, so the file data
// stops too. The lab's buildctl (lab/lab.sh tools) carries an x/net fix
// (lab/patches/x-net-http2-window-update.patch); a stock buildctl hangs
// here in most runs. The failure says so, with the count of waiting
// requests from the client's goroutine dump and whether buildctl has the
// patch.
func TestExportGoToolchain(t *testing.T) {
	const version = "1.23.4"
	dir := project(t, header("FROM scratch\nSDK golang@"+version+"\n"), map[string]string{})
	sdkRoot := "opt/golang/" + version

	tarball := filepath.Join(t.TempDir(), "out.tar")
	tr := exportBuild(t, dir, "type=tar,dest="+tarball)
	if tr.timedOut {
		t.Fatalf("the tarball export did not finish in %s\n%s", exportTimeout, tail(progressOnly(tr.stderr), 30))
	}
	if tr.err != nil {
		t.Fatalf("the tarball export failed: %v\n%s", tr.err, tail(tr.stderr, 40))
	}
	want, err := tarTree(tarball)
	if err != nil {
		t.Fatal(err)
	}

	localDir := t.TempDir()
	lr := exportBuild(t, dir, "type=local,dest="+localDir)
	if lr.timedOut {
		t.Fatalf("the local export did not finish in %s (the tarball export of the same stage took %s)\n"+
			"buildctl had %d file requests waiting for their data: %s\n%s\n%s",
			exportTimeout, tr.elapsed.Round(time.Millisecond), strings.Count(lr.stderr, "fsutil.(*wrappedWriteCloser).Wait("),
			"BuildKit's filesync deadlock, moby/buildkit#2950 (docs/lab.md, Troubleshooting)",
			buildctlPatch(), tail(progressOnly(lr.stderr), 15))
	}
	if lr.err != nil {
		t.Fatalf("the local export failed: %v\n%s", lr.err, tail(lr.stderr, 40))
	}
	got, err := dirTree(localDir)
	if err != nil {
		t.Fatal(err)
	}

	goBin := sdkRoot + "/bin/go"
	for name, tree := range map[string]map[string]treeEntry{"tarball": want, "local directory": got} {
		if e, ok := tree[goBin]; !ok || e.kind != "file" || e.mode&0o111 == 0 || e.size == 0 {
			t.Errorf("the %s has no executable %s (%+v)", name, goBin, e)
		}
	}
	if diffs := diffTrees(want, got); len(diffs) > 0 {
		shown := diffs
		if len(shown) > 20 {
			shown = append(shown[:20:20], fmt.Sprintf("... and %d more", len(diffs)-20))
		}
		t.Errorf("the local export differs from the tarball in %d entries:\n  %s", len(diffs), strings.Join(shown, "\n  "))
	}
	files, size := 0, int64(0)
	for _, e := range want {
		if e.kind == "file" {
			files++
			size += e.size
		}
	}
	t.Logf("%d entries (%d files, %.1f MB): tarball export %s, local export %s",
		len(want), files, float64(size)/1e6, tr.elapsed.Round(time.Millisecond), lr.elapsed.Round(time.Millisecond))
}

// export is one buildctl run of TestExportGoToolchain.
type export struct {
	stderr   string
	elapsed  time.Duration
	err      error
	timedOut bool
}

// exportBuild builds dir through the stock Dockerfile frontend (so that
// "# syntax=" picks sdkfront) to output. At exportTimeout buildctl gets
// SIGQUIT, so that its goroutine dump lands in stderr.
func exportBuild(t *testing.T, dir, output string) export {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("buildctl"), "--addr", lab.addr, "build", "--progress", "plain",
		"--frontend", "dockerfile.v0", "--local", "context="+dir, "--local", "dockerfile="+dir, "--output", output)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 15 * time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	return export{stderr: stderr.String(), elapsed: time.Since(start), err: err, timedOut: errors.Is(ctx.Err(), context.DeadlineExceeded)}
}

// buildctlPatch says whether the buildctl that hung carries the lab's
// x/net fix of the deadlock (lab/patches), as its version says.
func buildctlPatch() string {
	out, err := exec.Command(bin("buildctl"), "--version").Output()
	version := strings.TrimSpace(string(out))
	switch {
	case err != nil:
		return fmt.Sprintf("%s --version: %v", bin("buildctl"), err)
	case strings.Contains(version, "patched+x-net-http2-window-update."):
		return fmt.Sprintf("%s (%s) carries lab/patches/x-net-http2-window-update.patch, and still hung: the patch is not enough", bin("buildctl"), version)
	default:
		return fmt.Sprintf("%s (%s) lacks lab/patches/x-net-http2-window-update.patch, which fixes this: run lab/lab.sh tools", bin("buildctl"), version)
	}
}

// progressOnly is buildctl's stderr up to its goroutine dump, if any.
func progressOnly(stderr string) string {
	if i := strings.Index(stderr, "\nSIGQUIT"); i >= 0 {
		return stderr[:i]
	}
	return stderr
}

// treeEntry is what TestExportGoToolchain compares of one path.
type treeEntry struct {
	kind string      // dir, file, symlink, hardlink, char, block, fifo
	mode fs.FileMode // permission, setuid, setgid and sticky bits
	size int64       // of a file
	link string      // a symlink's target, or the path a hard link shares its file with
}

const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func (e treeEntry) String() string {
	s := fmt.Sprintf("%s %04o", e.kind, uint32(e.mode.Perm()))
	if e.mode&^fs.ModePerm != 0 {
		s += " " + (e.mode &^ fs.ModePerm).String()
	}
	if e.kind == "file" {
		s += fmt.Sprintf(" %d bytes", e.size)
	}
	if e.link != "" {
		s += " -> " + e.link
	}
	return s
}

// tarTree lists a tarball by slash-separated relative path.
func tarTree(file string) (map[string]treeEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tree := map[string]treeEntry{}
	r := tar.NewReader(f)
	for {
		h, err := r.Next()
		if err == io.EOF {
			return tree, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		name := relName(h.Name)
		if name == "" {
			continue
		}
		e := treeEntry{mode: h.FileInfo().Mode() & modeBits}
		switch h.Typeflag {
		case tar.TypeDir:
			e.kind = "dir"
		case tar.TypeReg:
			e.kind, e.size = "file", h.Size
		case tar.TypeSymlink:
			e.kind, e.link = "symlink", h.Linkname
		case tar.TypeLink:
			e.kind, e.link = "hardlink", relName(h.Linkname)
		case tar.TypeChar:
			e.kind = "char"
		case tar.TypeBlock:
			e.kind = "block"
		case tar.TypeFifo:
			e.kind = "fifo"
		default:
			return nil, fmt.Errorf("%s: %s has tar type %q", file, h.Name, h.Typeflag)
		}
		tree[name] = e
	}
}

// relName is a tar member's name as dirTree names paths.
func relName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// dirTree lists a directory by slash-separated relative path. A file with
// several names is listed under the first in walk order (lexical, as a
// tarball lists it) and as hard links to it under the others.
func dirTree(root string) (map[string]treeEntry, error) {
	tree := map[string]treeEntry{}
	inodes := map[[2]uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := treeEntry{mode: fi.Mode() & modeBits}
		switch t := fi.Mode().Type(); {
		case t == fs.ModeDir:
			e.kind = "dir"
		case t == fs.ModeSymlink:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
			e.kind = "symlink"
		case t == 0:
			e.kind, e.size = "file", fi.Size()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, seen := inodes[key]; seen {
					e.kind, e.size, e.link = "hardlink", 0, first
				} else {
					inodes[key] = name
				}
			}
		case t&fs.ModeCharDevice != 0:
			e.kind = "char"
		case t&fs.ModeDevice != 0:
			e.kind = "block"
		case t == fs.ModeNamedPipe:
			e.kind = "fifo"
		default:
			return fmt.Errorf("%s: unexpected file type %s", p, t)
		}
		tree[name] = e
		return nil
	})
	return tree, err
}

// diffTrees lists every path whose entry differs between the tarball's
// tree and the local directory's, sorted by path.
func diffTrees(tarball, local map[string]treeEntry) []string {
	names := map[string]bool{}
	for n := range tarball {
		names[n] = true
	}
	for n := range local {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, n := range sorted {
		w, inTar := tarball[n]
		g, inDir := local[n]
		switch {
		case !inDir:
			diffs = append(diffs, fmt.Sprintf("%s: only in the tarball (%s)", n, w))
		case !inTar:
			diffs = append(diffs, fmt.Sprintf("%s: only in the local directory (%s)", n, g))
		case w != g:
			diffs = append(diffs, fmt.Sprintf("%s: tarball has %s, local directory has %s", n, w, g))
		}
	}
	return diffs
}
