package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/sdkfront/sdkfront/dockerfile"
	"github.com/sdkfront/sdkfront/plan"
)

// contexts reads version files ("python@file:.python-version") from the
// build context and named contexts, which sdkfront lock takes as local
// directories, as the build client sends them: the plan.Host's ReadFile.
type contexts struct {
	main       string            // --context
	named      map[string]string // --build-context NAME=DIR
	dockerfile string            // for <Dockerfile>.dockerignore

	ignore *patternmatcher.PatternMatcher // of the main context; nil: none
	loaded bool
}

// ReadFile reads a version file; plan reads each once.
func (c *contexts) ReadFile(_ context.Context, vf dockerfile.VersionFile) ([]byte, error) {
	return c.load(vf)
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
			return nil, &plan.FileError{Path: vf.Path, Where: where, Err: fs.ErrNotExist}
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
	if err != nil {
		return nil, &plan.FileError{Path: vf.Path, Where: where, Err: err}
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
