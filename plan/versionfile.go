package plan

import (
	"context"
	"fmt"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// versionFiles reads version files ("python@file:.python-version") through
// a host, each once.
type versionFiles struct {
	h    Files
	read map[dockerfile.VersionFile]fileResult
}

type fileResult struct {
	data []byte
	err  error
}

// constrain gives a use whose version comes from a file the constraint the
// file holds.
func (v *versionFiles) constrain(ctx context.Context, u *dockerfile.Use) error {
	vf := u.VersionFile
	if vf == nil {
		return nil
	}
	r, ok := v.read[*vf]
	if !ok {
		r.data, r.err = v.h.ReadFile(ctx, *vf)
		v.read[*vf] = r
	}
	if r.err != nil {
		return fmt.Errorf("SDK %s: %v", u.RefText, r.err) //nolint:errorlint // a message: wrapping would let errors.As pick another exit code
	}
	constraint, err := vf.Constraint(u.Ref.Platform, r.data)
	if err == nil {
		err = u.SetConstraint(constraint)
	}
	if err != nil {
		return fmt.Errorf("SDK %s: %v", u.RefText, err) //nolint:errorlint // a message: wrapping would let errors.As pick another exit code
	}
	return nil
}
