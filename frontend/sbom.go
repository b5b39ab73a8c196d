package frontend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/platforms"
	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/gateway/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	sdkplan "github.com/sdkfront/sdkfront/plan"
	"github.com/sdkfront/sdkfront/resolver"
	"github.com/sdkfront/sdkfront/version"
)

// The SBOM of a build that asks for one (--attest type=sbom, attest:sbom)
// names the SDKs that land in its image: BuildKit's scanner sees an SDK's
// files, but not which SDK, version and image they came from, nor who
// signed it. sdkfront adds, for each platform, an SPDX document of its own
// beside the scanner's: one package per SDK line of the target stage and
// the stages it is built FROM, with its version, a package URL naming the
// image by digest, and the signer where one was verified.
//
// SDKs mounted for a RUN (--mount=type=sdk) are not in it: an SBOM lists
// what the image holds, and a mount's files are gone when the step ends.
// They are in the build's provenance, as every image source is, by digest.
// An SDK line of a stage that the target only copies from is left out too:
// what of it a COPY --from takes, if anything, is the scanner's to see.

// sbomPath is where the SPDX document stands in its attestation's ref.
const sbomPath = "/sdkfront-sdks.spdx.json"

// spdxDocument is the part of SPDX 2.3 that sdkfront writes.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID                string            `json:"SPDXID"`
	Name                  string            `json:"name"`
	VersionInfo           string            `json:"versionInfo"`
	DownloadLocation      string            `json:"downloadLocation"`
	FilesAnalyzed         bool              `json:"filesAnalyzed"`
	PrimaryPackagePurpose string            `json:"primaryPackagePurpose"`
	ExternalRefs          []spdxExternalRef `json:"externalRefs"`
	Comment               string            `json:"comment"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

// sbomSDK is one SDK that lands in a platform's image.
type sbomSDK struct {
	res   resolver.Resolution
	image digest.Digest // the platform's image manifest, else res.Digest
	line  int           // the first SDK line that names it
}

// landed are the SDKs that the SDK lines of the target stage, and of the
// stages it is built FROM, copy into target t's image: one per image,
// in the Dockerfile's order.
func (pl *plan) landed(t int) []sbomSDK {
	scan := pl.targets[t].Scan
	chain := map[int]bool{}
	for s := scan.TargetStage(); s >= 0 && !chain[s]; s = scan.Stages[s].Parent {
		chain[s] = true
	}
	var out []sbomSDK
	seen := map[string]bool{}
	for _, n := range pl.needs {
		if n.Target != t || n.SDK.Mount || !chain[n.SDK.Stage] || n.Res.Digest == "" {
			continue
		}
		img := n.Res.Image
		if d, ok := n.Res.Platforms[platforms.Format(platforms.Normalize(n.Platform))]; ok && img == "" {
			img = d
		}
		if img == "" {
			img = n.Res.Digest
		}
		if id := n.Res.Repository + "@" + img.String(); !seen[id] {
			seen[id] = true
			out = append(out, sbomSDK{res: n.Res, image: img, line: n.SDK.Line()})
		}
	}
	return out
}

// spdx is the document for sdks, created at created; an SDK whose
// signature a trust policy verified says by whom (Resolution.SignedBy).
func spdx(sdks []sbomSDK, created time.Time) ([]byte, error) {
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name: "sdkfront SDKs",
		CreationInfo: spdxCreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: sdkfront-" + version.Version},
		},
		Packages: []spdxPackage{}, Relationships: []spdxRelationship{},
	}
	ids := digest.Canonical.Digester()
	for i, s := range sdks {
		id := "SPDXRef-SDK-" + strconv.Itoa(i+1)
		comment := fmt.Sprintf("SDK %s (Dockerfile line %d), image %s@%s", s.res.Ref, s.line, s.res.Repository, s.image)
		if s.res.SignedBy != "" {
			comment += ", " + s.res.SignedBy
		}
		doc.Packages = append(doc.Packages, spdxPackage{
			SPDXID: id, Name: s.res.Platform, VersionInfo: s.res.Version,
			DownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "FRAMEWORK",
			ExternalRefs: []spdxExternalRef{{
				ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
				ReferenceLocator: ociPURL(s.res.Repository, s.res.Tag, s.image),
			}},
			Comment: comment,
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{
			SPDXElementID: "SPDXRef-DOCUMENT", RelationshipType: "DESCRIBES", RelatedSPDXElement: id,
		})
		fmt.Fprintf(ids.Hash(), "%s@%s\n", s.res.Repository, s.image)
	}
	doc.DocumentNamespace = "https://sdkfront.dev/spdx/sdks/" + ids.Digest().Encoded()
	return json.MarshalIndent(doc, "", "  ")
}

// ociPURL is the package URL of an OCI image (purl-spec's oci type): the
// repository's last segment as the name, the digest as the version, the
// whole repository and the tag as qualifiers; a digest's ":" is
// percent-encoded, as the spec has it ("sha256%3A…").
func ociPURL(repository, tag string, d digest.Digest) string {
	q := url.Values{"repository_url": {repository}}
	if tag != "" {
		q.Set("tag", tag)
	}
	return "pkg:oci/" + strings.ToLower(path.Base(repository)) + "@" + strings.ReplaceAll(d.String(), ":", "%3A") + "?" + q.Encode()
}

// attachSBOM adds the SPDX document of the SDKs that land in each
// platform's image to res, if the build asks for an SBOM; the platforms
// are those of the builder's result (exptypes.ExporterPlatformsKey), the
// keys its own attestations use.
func (r *run) attachSBOM(ctx context.Context, res *client.Result, pl *plan) error {
	if r.bc.SBOM == nil {
		return nil
	}
	dt, ok := res.Metadata[exptypes.ExporterPlatformsKey]
	if !ok {
		return errors.Errorf("sdkfront: BuildKit's builder returned no %s to attach the SDKs' SBOM to", exptypes.ExporterPlatformsKey)
	}
	var ps exptypes.Platforms
	if err := json.Unmarshal(dt, &ps); err != nil {
		return errors.Wrapf(err, "sdkfront: reading the builder's %s", exptypes.ExporterPlatformsKey)
	}
	created := time.Now()
	if v, ok := r.bc.BuildArgs["SOURCE_DATE_EPOCH"]; ok {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			created = time.Unix(sec, 0)
		}
	}
	for _, p := range ps.Platforms {
		t := slices.IndexFunc(pl.targets, func(t sdkplan.Target) bool {
			return platforms.FormatAll(platforms.Normalize(t.Platform)) == p.ID
		})
		if t < 0 {
			continue
		}
		sdks := pl.landed(t)
		if len(sdks) == 0 {
			continue
		}
		doc, err := spdx(sdks, created)
		if err != nil {
			return err
		}
		def, err := llb.Scratch().File(llb.Mkfile(sbomPath, 0o644, doc), llb.WithCustomName("[sdk] SBOM of the SDKs")).Marshal(ctx)
		if err != nil {
			return err
		}
		sr, err := r.c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return err
		}
		ref, err := sr.SingleRef()
		if err != nil {
			return err
		}
		res.AddAttestation(p.ID, client.Attestation{
			Kind:     gatewaypb.AttestationKind_InToto,
			Ref:      ref,
			Path:     sbomPath,
			Metadata: map[string][]byte{result.AttestationReasonKey: []byte(result.AttestationReasonSBOM)},
			InToto:   result.InTotoAttestation{PredicateType: intoto.PredicateSPDX},
		})
	}
	return nil
}
