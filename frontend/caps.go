package frontend

import (
	"context"
	"maps"
	"slices"

	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"
)

// A "# syntax=" frontend runs inside the user's daemon, which may be much
// older than the BuildKit whose LLB library built the definition (make
// matrix runs the e2e suite on several). A daemon refuses an op whose
// metadata declares a capability it lacks, with a bare "unknown API
// capability"; worse, BuildKit v0.34.2's FileOp.Marshal never declares the
// capabilities of its copy options (it adds them from an action list that
// is still empty), so an older daemon silently ignores the fields it does
// not know: `COPY --chmod=u+x` then gives the file mode 0000. capsClient
// checks every definition against the daemon's capabilities before it is
// solved and fails at the Dockerfile line with the BuildKit version needed.

// capsClient is the gateway client with every Solve checked by checkCaps.
type capsClient struct{ client.Client }

func (c *capsClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.Definition != nil {
		caps := c.Client.BuildOpts().LLBCaps
		if err := checkCaps(req.Definition, &caps); err != nil {
			return nil, err
		}
	}
	return c.Client.Solve(ctx, req)
}

// capInfo says what needs a capability and since which BuildKit release.
type capInfo struct {
	since   string // the first release with it; "" if older than v0.12
	feature string // what the Dockerfile asked for; "" if not known
	hint    string // what the user can do instead, if anything
}

// capsSince: the release that brought each capability that BuildKit v0.12
// lacks (and the one sdkfront needs from v0.11), measured from
// solver/pb/caps.go of every minor release from v0.10 to v0.34
// (docs/matrix.md); and the features behind the file copy options, which
// sdkfront infers because they are never declared.
var capsSince = map[apicaps.CapID]capInfo{
	pb.CapFileCopyModeStringFormat: {since: "v0.17.0", feature: "a symbolic --chmod mode",
		hint: "; the daemon would ignore the mode and give the files mode 0000. Write the mode in octal (--chmod=0755) or build on a newer daemon"},
	pb.CapFileCopyAlwaysReplaceExistingDestPaths: {since: "v0.14.0", feature: "a copy that replaces existing destination paths"},
	pb.CapFileSymlinkCreate:                      {since: "v0.19.0", feature: "creating a symlink"},
	pb.CapFileCopyIncludeExcludePatterns:         {feature: "a copy with include or exclude patterns (COPY --exclude, --parents)"},
	pb.CapSourceImageLayerLimit:                  {since: "v0.11.0", feature: "an SDK (an image source limited to its one layer)"},
	pb.CapExecMountContentCache:                  {since: "v0.13.0"},
	pb.CapMultipleExporters:                      {since: "v0.13.0"},
	pb.CapExecValidExitCode:                      {since: "v0.17.0"},
	pb.CapGCFreeSpaceFilter:                      {since: "v0.17.0"},
	pb.CapExecMetaCDI:                            {since: "v0.20.0", feature: "RUN --device"},
	pb.CapHistoryFilters:                         {since: "v0.20.0"},
	pb.CapSourceMetadataTransfer:                 {since: "v0.21.0"},
	pb.CapSourceHTTPAuth:                         {since: "v0.21.0", feature: "an HTTP source with authentication"},
	pb.CapSourceHTTPHeader:                       {since: "v0.21.0", feature: "an HTTP source with request headers"},
	pb.CapSessionExporter:                        {since: "v0.21.0"},
	pb.CapSourceGitChecksum:                      {since: "v0.22.0", feature: "ADD --checksum of a Git source"},
	pb.CapSourceGitSkipSubmodules:                {since: "v0.24.0", feature: "a Git source without submodules"},
	pb.CapSourceImageChecksum:                    {since: "v0.25.0", feature: "an image source with a checksum"},
	pb.CapSourceGitSignatureVerify:               {since: "v0.26.0", feature: "a Git source with signature verification"},
	pb.CapFileCopyRequiredPaths:                  {since: "v0.26.0", feature: "a copy whose source paths must exist (COPY --parents)"},
	pb.CapSourcePolicySession:                    {since: "v0.26.0"},
	pb.CapSourceHTTPSignatureVerify:              {since: "v0.28.0", feature: "an HTTP source with signature verification"},
	pb.CapSourceImageBlob:                        {since: "v0.28.0"},
	pb.CapSourceGitMTime:                         {since: "v0.29.0"},
	pb.CapSourceGitFetchByCommit:                 {since: "v0.30.0"},
	pb.CapSourceGitBundle:                        {since: "v0.30.0"},
	pb.CapSourceGitCheckoutBundle:                {since: "v0.30.0"},
	pb.CapExecMetaNetworkProxy:                   {since: "v0.31.0"},
	pb.CapExecMetaLinuxResources:                 {since: "v0.31.0"},
	pb.CapPassthroughOp:                          {since: "v0.31.0"},
}

// modeStringProxy stands in for file.copy.modestring, which no BuildKit
// release registers (solver/pb/caps.go declares it, but Caps.Init never
// lists it, so no daemon advertises it): a daemon handles a symbolic mode
// from v0.17.0 on (solver/llbsolver/file), the release that brought
// exec.validexitcode.
const modeStringProxy = pb.CapExecValidExitCode

// need is one capability an op needs, and why.
type need struct {
	id      apicaps.CapID
	detail  string        // the op's own words for it ("u+x"), if any
	checkAs apicaps.CapID // what to look up in the daemon's set, if not id
}

// needs lists what op needs: first the capabilities of the copy options
// FileOp.Marshal leaves undeclared, then those its metadata declares.
func needs(op *pb.Op, md *pb.OpMetadata) []need {
	var out []need
	if f := op.GetFile(); f != nil {
		for _, a := range f.Actions {
			if a.GetSymlink() != nil {
				out = append(out, need{id: pb.CapFileSymlinkCreate})
			}
			cp := a.GetCopy()
			if cp == nil {
				continue
			}
			if cp.ModeStr != "" {
				out = append(out, need{id: pb.CapFileCopyModeStringFormat, detail: cp.ModeStr, checkAs: modeStringProxy})
			}
			if len(cp.IncludePatterns) > 0 || len(cp.ExcludePatterns) > 0 {
				out = append(out, need{id: pb.CapFileCopyIncludeExcludePatterns})
			}
			if cp.AlwaysReplaceExistingDestPaths {
				out = append(out, need{id: pb.CapFileCopyAlwaysReplaceExistingDestPaths})
			}
			// RequiredPaths (COPY --parents of a path without wildcards)
			// is left out on purpose: a daemon without it (< v0.26) copies
			// what exists and only fails to report a missing path, and
			// BuildKit's own frontend builds there too.
		}
	}
	if md != nil {
		for _, id := range slices.Sorted(maps.Keys(md.Caps)) {
			if md.Caps[id] {
				out = append(out, need{id: apicaps.CapID(id)})
			}
		}
	}
	return out
}

// checkCaps fails at the first op of def that needs a capability caps
// lacks. A daemon that lists no capabilities at all (not even file.base,
// BuildKit v0.5) is left to judge for itself.
func checkCaps(def *pb.Definition, caps *apicaps.CapSet) error {
	if caps == nil || !caps.Contains(pb.CapFileBase) {
		return nil
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil // not a definition to judge here: the daemon will say
		}
		dgst := digest.FromBytes(dt)
		for _, n := range needs(&op, def.Metadata[string(dgst)]) {
			id := n.id
			if n.checkAs != "" {
				id = n.checkAs
			}
			if err := caps.Supports(id); err != nil {
				return withOpSource(capError(n, err), def, dgst)
			}
		}
	}
	return nil
}

// capError says what the build asked for, since which BuildKit release it
// exists, and what the daemon said.
func capError(n need, err error) error {
	info := capsSince[n.id]
	what := info.feature
	if what == "" {
		what = "this build step"
	}
	if n.detail != "" {
		what += " (" + n.detail + ")"
	}
	var ce *apicaps.CapError
	if errors.As(err, &ce) && ce.State != nil && !ce.State.Enabled {
		reason := ce.State.DisabledReasonMsg
		if reason == "" {
			reason = "no reason given"
		}
		return errors.Errorf("%s needs the BuildKit capability %s, which the daemon running this build has disabled: %s", what, n.id, reason)
	}
	if info.since == "" {
		return errors.Errorf("%s needs a newer BuildKit than the daemon running this build (capability %s)%s", what, n.id, info.hint)
	}
	return errors.Errorf("%s needs BuildKit %s or later, and the daemon running this build does not support it (capability %s)%s", what, info.since, n.id, info.hint)
}

// withOpSource attaches the Dockerfile lines that made op dgst, if def
// records them, so the error prints with them as BuildKit's own do; else
// it names the step as the progress does.
func withOpSource(err error, def *pb.Definition, dgst digest.Digest) error {
	var locs *pb.Locations
	if src := def.GetSource(); src != nil {
		locs = src.Locations[dgst.String()]
	}
	if locs == nil || len(locs.Locations) == 0 {
		if name := def.Metadata[dgst.String()].GetDescription()["llb.customname"]; name != "" {
			return errors.Wrapf(err, "%s", name)
		}
		return err
	}
	src := def.GetSource()
	for _, l := range locs.Locations {
		if l.SourceIndex < 0 || int(l.SourceIndex) >= len(src.Infos) {
			continue
		}
		rs := make([]*pb.Range, len(l.Ranges))
		for i, r := range l.Ranges {
			rs[i] = r.CloneVT()
		}
		err = errdefs.WithSource(err, &errdefs.Source{Info: src.Infos[l.SourceIndex].CloneVT(), Ranges: rs})
	}
	return err
}
