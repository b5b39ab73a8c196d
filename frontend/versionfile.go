package frontend

import (
	"context"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
)

// readVersionFiles gives every "<platform>@file:<path>" use the constraint
// its file holds. Each file is read once, from the build context (local,
// git or HTTP) or a named context, as BuildKit's builder will see it.
func readVersionFiles(ctx context.Context, c client.Client, bc *dockerui.Client, targets []target) error {
	read := map[dockerfile.VersionFile][]byte{}
	for _, t := range targets {
		for _, u := range t.scan.Uses {
			vf := u.VersionFile
			if vf == nil {
				continue
			}
			dt, ok := read[*vf]
			if !ok {
				var err error
				if dt, err = readContextFile(ctx, c, bc, *vf); err != nil {
					return parser.WithLocation(errors.Errorf("SDK %s: %v", u.RefText, err), u.Location())
				}
				read[*vf] = dt
			}
			constraint, err := vf.Constraint(u.Ref.Platform, dt)
			if err == nil {
				err = u.SetConstraint(constraint)
			}
			if err != nil {
				return parser.WithLocation(errors.Errorf("SDK %s: %v", u.RefText, err), u.Location())
			}
		}
	}
	return nil
}

// readContextFile reads one file of a build context.
func readContextFile(ctx context.Context, c client.Client, bc *dockerui.Client, vf dockerfile.VersionFile) ([]byte, error) {
	var st *llb.State
	where := "the build context"
	if vf.Context == "" {
		var err error
		if st, err = bc.MainContext(ctx, llb.FollowPaths([]string{vf.Path}), dockerui.WithInternalName("[sdk] load "+vf.Path)); err != nil {
			return nil, err
		}
	} else {
		where = "the build context " + vf.Context
		nc, err := bc.NamedContext(vf.Context, dockerui.ContextOpt{})
		if err != nil {
			return nil, err
		}
		if nc == nil {
			return nil, errors.Errorf("there is no build context named %q: pass it with --build-context %s=<dir, git URL or image>", vf.Context, vf.Context)
		}
		if st, _, err = nc.Load(ctx); err != nil {
			return nil, err
		}
	}
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	dt, err := ref.ReadFile(ctx, client.ReadRequest{Filename: vf.Path})
	if err != nil {
		if notExist(err) {
			return nil, errors.Errorf("%s is not in %s (or .dockerignore excludes it)", vf.Path, where)
		}
		return nil, errors.Wrapf(err, "reading %s from %s", vf.Path, where)
	}
	return dt, nil
}
