package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// contexts reads version files ("python@file:.python-version") from the
// build context and named contexts, which sdkfront lock takes as local
// directories, as the build client sends them.
type contexts struct {
	main       string            // --context
	named      map[string]string // --build-context NAME=DIR
	dockerfile string            // for <Dockerfile>.dockerignore

	read   map[dockerfile.VersionFile]fileResult
	ignore *patternmatcher.PatternMatcher // of the main context; nil: none
	loaded bool
}

type fileResult struct {
	data []byte
	err  error
}

// file reads a version file once.
func (c *contexts) file(vf dockerfile.VersionFile) ([]byte, error) {
	if c.read == nil {
		c.read = map[dockerfile.VersionFile]fileResult{}
	}
	if r, ok := c.read[vf]; ok {
		return r.data, r.err
	}
	dt, err := c.load(vf)
	c.read[vf] = fileResult{dt, err}
	return dt, err
}

func (c *contexts) load(vf dockerfile.VersionFile) ([]byte, error) {
	dir, where := c.main, "the build context "+c.main
	if vf.Context != "" {
		d, ok := c.named[vf.Context]
		if !ok {
			return nil, fmt.Errorf("there is no build context named %q: pass it with --build-context %s=<dir>", vf.Context, vf.Context)
		}
		dir, where = d, fmt.Sprintf("the build context %s (%s)", vf.Context, d)
	} else {
		ignored, err := c.ignored(vf.Path)
		if err != nil {
			return nil, err
		}
		if ignored {
			return nil, fmt.Errorf("%s is not in %s (or .dockerignore excludes it)", vf.Path, where)
		}
	}
	// Within the context only, as BuildKit sends it: a symlink that
	// leaves it is an error.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	defer root.Close()
	dt, err := root.ReadFile(filepath.FromSlash(vf.Path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s is not in %s (or .dockerignore excludes it)", vf.Path, where)
	case err != nil:
		return nil, fmt.Errorf("reading %s from %s: %w", vf.Path, where, err)
	}
	return dt, nil
}

// ignored reports whether the main context's ignore file excludes p:
// <Dockerfile>.dockerignore beside the Dockerfile, else .dockerignore at
// the context's root, as BuildKit's clients pick them.
func (c *contexts) ignored(p string) (bool, error) {
	if !c.loaded {
		c.loaded = true
		for _, name := range []string{c.dockerfile + ".dockerignore", filepath.Join(c.main, ".dockerignore")} {
			f, err := os.Open(name)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return false, err
			}
			patterns, err := ignorefile.ReadAll(f)
			f.Close()
			if err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			if c.ignore, err = patternmatcher.New(patterns); err != nil {
				return false, fmt.Errorf("%s: %w", name, err)
			}
			break
		}
	}
	if c.ignore == nil {
		return false, nil
	}
	return c.ignore.MatchesOrParentMatches(p)
}

// constrain gives a use whose version comes from a file the constraint the
// file holds, as the frontend does.
func (c *contexts) constrain(u *dockerfile.Use) error {
	vf := u.VersionFile
	if vf == nil {
		return nil
	}
	dt, err := c.file(*vf)
	if err != nil {
		return fmt.Errorf("SDK %s: %v", u.RefText, err) //nolint:errorlint // a message: wrapping would let errors.As pick another exit code
	}
	constraint, err := vf.Constraint(u.Ref.Platform, dt)
	if err == nil {
		err = u.SetConstraint(constraint)
	}
	if err != nil {
		return fmt.Errorf("SDK %s: %v", u.RefText, err) //nolint:errorlint // a message: wrapping would let errors.As pick another exit code
	}
	return nil
}

// namedContexts is --build-context NAME=DIR, repeatable.
type namedContexts map[string]string

func (n namedContexts) String() string { return "" }

func (n namedContexts) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want NAME=DIR, not %q", s)
	}
	if strings.Contains(v, "://") {
		return fmt.Errorf("%s: sdkfront lock reads version files from local directories only", s)
	}
	n[k] = v
	return nil
}
