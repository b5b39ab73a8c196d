package main

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

// The floor: the least this machine needs to fetch an SDK layer over
// loopback and write the SDK tree onto the filesystem that holds buildkitd's
// root. Several host pipelines, each timed from start to the last file
// written; the floor is the fastest.

// floorPipe is one host pipeline.
type floorPipe struct {
	name string
	// cmd returns the command that fetches url and writes the tree into
	// dir; inner is the tarball inside the layer ("" for a tree layer).
	cmd func(url, inner, dir string) *exec.Cmd
}

func floorPipes() []floorPipe {
	ps := []floorPipe{
		{"GNU tar", func(url, inner, dir string) *exec.Cmd {
			sh := "curl -sfS " + url + " | tar -xzf - -C " + dir
			if inner != "" {
				sh = "curl -sfS " + url + " | tar -xzOf - " + inner + " | tar -xzf - -C " + dir
			}
			return exec.Command("bash", "-o", "pipefail", "-c", sh)
		}},
		{"Go archive/tar + parallel gzip", func(url, inner, dir string) *exec.Cmd {
			self, err := os.Executable()
			check(err)
			return exec.Command(self, "-extract", url, "-inner", inner, "-dest", dir)
		}},
	}
	if _, err := exec.LookPath("pigz"); err == nil {
		ps = append(ps, floorPipe{"pigz + GNU tar", func(url, inner, dir string) *exec.Cmd {
			sh := "curl -sfS " + url + " | pigz -dc | tar -xf - -C " + dir
			if inner != "" {
				sh = "curl -sfS " + url + " | pigz -dc | tar -xOf - " + inner + " | pigz -dc | tar -xf - -C " + dir
			}
			return exec.Command("bash", "-o", "pipefail", "-c", sh)
		}})
	}
	return ps
}

// runFloor times one pipeline and checks that it wrote want (a file of the
// tree, e.g. bin/go).
func runFloor(p floorPipe, url, inner, want string) float64 {
	dir := filepath.Join(*benchDir, "floor")
	check(os.RemoveAll(dir))
	check(os.MkdirAll(dir, 0o755))
	defer os.RemoveAll(dir)
	_ = exec.Command("sync").Run()
	cmd := p.cmd(url, inner, dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	secs := time.Since(start).Seconds()
	if err != nil {
		fail(fmt.Sprintf("floor %s: %v\n%s", p.name, err, out))
	}
	if !fileExists(filepath.Join(dir, want)) {
		fail(fmt.Sprintf("floor %s: no %s written", p.name, want))
	}
	return secs
}

// ---------------------------------------------------------------------------
// bench -extract URL [-inner NAME] -dest DIR: the Go pipeline

// extract fetches a gzip layer and writes its tree (or the tree of the
// tarball inner inside it) into dest. Every stage runs concurrently: the
// network read, each gzip inflate (klauspost's, with its own read-ahead),
// the tar parsing, and a pool of writers for file contents.
func extract(url, inner, dest string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	r := readahead(resp.Body, 8, 1<<20)
	zr, err := kgzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(readahead(zr, 8, 1<<20))
	if inner != "" {
		for {
			h, err := tr.Next()
			if err != nil {
				return fmt.Errorf("no %s in the layer: %w", inner, err)
			}
			if strings.TrimPrefix(h.Name, "./") == strings.TrimPrefix(inner, "./") {
				break
			}
		}
		zr2, err := kgzip.NewReader(readahead(tr, 8, 1<<20))
		if err != nil {
			return err
		}
		tr = tar.NewReader(readahead(zr2, 8, 1<<20))
	}
	return untar(tr, dest)
}

// readahead reads r in a goroutine into up to n buffers of size bytes.
func readahead(r io.Reader, n, size int) io.Reader {
	pr, pw := io.Pipe()
	ch := make(chan []byte, n)
	go func() {
		defer close(ch)
		for {
			b := make([]byte, size)
			k, err := io.ReadFull(r, b)
			if k > 0 {
				ch <- b[:k]
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	go func() {
		for b := range ch {
			if _, err := pw.Write(b); err != nil {
				for range ch {
				}
				return
			}
		}
		_ = pw.Close()
	}()
	return pr
}

type fileJob struct {
	path string
	mode os.FileMode
	data []byte
}

// untar writes the entries of tr under dest: directories and links in
// order, file contents by a pool of writers.
func untar(tr *tar.Reader, dest string) error {
	jobs := make(chan fileJob, 64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var werr error
	for range max(2, runtime.NumCPU()*2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := os.WriteFile(j.path, j.data, j.mode); err != nil {
					mu.Lock()
					werr = errors.Join(werr, err)
					mu.Unlock()
				}
			}
		}()
	}
	var links []*tar.Header
	var err error
	for {
		var h *tar.Header
		h, err = tr.Next()
		if err == io.EOF {
			err = nil
			break
		}
		if err != nil {
			break
		}
		p := filepath.Join(dest, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			data := make([]byte, h.Size)
			if _, err = io.ReadFull(tr, data); err == nil {
				if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
					jobs <- fileJob{p, os.FileMode(h.Mode).Perm(), data}
				}
			}
		case tar.TypeSymlink, tar.TypeLink:
			links = append(links, h)
		}
		if err != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil || werr != nil {
		return errors.Join(err, werr)
	}
	for _, h := range links {
		p := filepath.Join(dest, filepath.Clean("/"+h.Name))
		if h.Typeflag == tar.TypeSymlink {
			err = os.Symlink(h.Linkname, p)
		} else {
			err = os.Link(filepath.Join(dest, filepath.Clean("/"+h.Linkname)), p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var _ = bufio.NewReader
