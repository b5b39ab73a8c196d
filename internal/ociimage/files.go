package ociimage

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// HostFiles returns a TarFunc writing this host's files at paths (absolute;
// with their parent directories) that seen does not hold yet, in sorted
// order, stamped Epoch; seen, shared by several layers, keeps a file in the
// first. A path that vanished since it was listed is left out.
func HostFiles(paths []string, seen map[string]bool) TarFunc {
	return func(tw *tar.Writer) error {
		sort.Strings(paths)
		var add func(p string) error
		add = func(p string) error {
			rel := strings.TrimPrefix(p, "/")
			if rel == "" || seen[rel] {
				return nil
			}
			if err := add(filepath.Dir(p)); err != nil {
				return err
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return nil // diverted or removed since
			}
			seen[rel] = true
			mode := int64(fi.Mode().Perm())
			switch {
			case fi.IsDir():
				return tw.WriteHeader(Header(rel+"/", tar.TypeDir, mode, 0, ""))
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(p)
				if err != nil {
					return err
				}
				return tw.WriteHeader(Header(rel, tar.TypeSymlink, mode, 0, t))
			case fi.Mode().IsRegular():
				f, err := os.Open(p)
				if err != nil {
					return nil
				}
				defer f.Close()
				if err := tw.WriteHeader(Header(rel, tar.TypeReg, mode, fi.Size(), "")); err != nil {
					return err
				}
				_, err = io.CopyN(tw, f, fi.Size())
				return err
			}
			return nil
		}
		for _, p := range paths {
			if err := add(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// Reprefix returns a TarFunc copying the entries of the gzipped tarball tgz
// under prefix ("usr/local/go/"), after prefix's own directories (0755,
// stamped Epoch); the entries keep their headers.
func Reprefix(tgz, prefix string) TarFunc {
	return func(tw *tar.Writer) error {
		f, err := os.Open(tgz)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return err
		}
		parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
		for i := range parts {
			if err := tw.WriteHeader(Header(strings.Join(parts[:i+1], "/")+"/", tar.TypeDir, 0o755, 0, "")); err != nil {
				return err
			}
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			h.Name = prefix + h.Name
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}
