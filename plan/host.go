package plan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// Host is what planning reads, each entry point its own way.
type Host interface {
	Files
	// OSRelease reads base's os-release for platform p: nil if it has
	// none. ErrNotRead says that the host does not read it, and the
	// flavor is not known (sdkfront lock --check reads no registry); any
	// other error fails the lines built on base.
	OSRelease(ctx context.Context, base string, p ocispecs.Platform) ([]byte, error)
}

// Files is what Read reads: the version files.
type Files interface {
	// ReadFile reads a version file from the build context, or the named
	// context vf.Context. A failure to read the file itself is a
	// *FileError, so that every host says it in the same words.
	ReadFile(ctx context.Context, vf dockerfile.VersionFile) ([]byte, error)
}

// ErrNotRead is a base image the host does not read.
var ErrNotRead = errors.New("not read")

// FileError is a version file that cannot be read from its context.
type FileError struct {
	Path  string // as the line names it
	Where string // "the build context", "the build context NAME (DIR)"
	Err   error  // wraps fs.ErrNotExist if the file is not there
}

func (e *FileError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("%s is not in %s (or .dockerignore excludes it)", e.Path, e.Where)
	}
	return fmt.Sprintf("reading %s from %s: %v", e.Path, e.Where, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }
