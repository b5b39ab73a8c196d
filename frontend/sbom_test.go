package frontend

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	intoto "github.com/in-toto/in-toto-golang/in_toto"
	"github.com/moby/buildkit/frontend/gateway/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

// TestSBOMNamesLandedSDKs: a build that asks for an SBOM gets, beside
// BuildKit's scanner's, an SPDX document of its own per platform that
// names each SDK its image holds (the SDK lines of the target stage and of
// the stages it is built FROM) with version, package URL and line; an SDK
// mounted for a RUN, and one of a stage the target only copies from, are
// not in it. Without attest:sbom nothing is added. Its stages FROM two
// images make BuildKit's builder race (skipBuildKitRace).
func TestSBOMNamesLandedSDKs(t *testing.T) {
	skipBuildKitRace(t)
	df := `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
FROM busybox AS tools
SDK nodejs@20.18
FROM busybox AS base
SDK golang@1.23
FROM base
SDK python@3.11.9 --to=/py
RUN --mount=type=sdk,ref=nodejs@20.18.0,target=/node true
COPY --from=tools /usr/local /tools
`
	for _, withSBOM := range []bool{true, false} {
		s, tags := sdkStub(df)
		if withSBOM {
			s.opts["attest:sbom"] = "generator=reg.test/scanner:latest"
			cfg, _ := json.Marshal(ocispecs.Image{Platform: amd64, Config: ocispecs.ImageConfig{Cmd: []string{"/scan"}}})
			s.images["reg.test/scanner:latest"] = stubImage{digest: digest.FromBytes(cfg), config: cfg}
		}
		res, err := build(context.Background(), s, tags)
		if err != nil {
			t.Fatal(err)
		}
		var ours []client.Attestation
		for _, as := range res.Attestations {
			for _, a := range as {
				if a.Path == sbomPath {
					ours = append(ours, a)
				}
			}
		}
		if !withSBOM {
			if len(ours) != 0 {
				t.Errorf("without attest:sbom the result has %d SDK SBOMs", len(ours))
			}
			continue
		}
		atts := res.Attestations["linux/amd64"]
		if len(ours) != 1 || len(atts) == 0 {
			t.Fatalf("attestations: %d SDK SBOMs (want 1), %d for linux/amd64: %+v", len(ours), len(atts), res.Attestations)
		}
		a := ours[0]
		if a.Kind != gatewaypb.AttestationKind_InToto || a.InToto.PredicateType != intoto.PredicateSPDX ||
			string(a.Metadata[result.AttestationReasonKey]) != result.AttestationReasonSBOM {
			t.Errorf("attestation = kind %v, predicate %q, metadata %q", a.Kind, a.InToto.PredicateType, a.Metadata)
		}
		dt, err := a.Ref.ReadFile(context.Background(), client.ReadRequest{Filename: sbomPath})
		if err != nil {
			t.Fatal(err)
		}
		var doc spdxDocument
		if err := json.Unmarshal(dt, &doc); err != nil {
			t.Fatalf("%v\n%s", err, dt)
		}
		if doc.SPDXVersion != "SPDX-2.3" || len(doc.Relationships) != len(doc.Packages) {
			t.Errorf("document: %s, %d relationships for %d packages", doc.SPDXVersion, len(doc.Relationships), len(doc.Packages))
		}
		want := []struct{ name, version, tag, line string }{
			{"golang", "1.23.4", "bookworm-1.23.4", "SDK golang@1.23 (Dockerfile line 5)"},
			{"python", "3.11.9", "bookworm-3.11.9", "SDK python@3.11.9 (Dockerfile line 7)"},
		}
		if len(doc.Packages) != len(want) {
			t.Fatalf("packages: %+v, want golang and python only (not the mount's nodejs@20.18.0, nor the tools stage's nodejs@20.18)", doc.Packages)
		}
		for i, w := range want {
			p := doc.Packages[i]
			purl := p.ExternalRefs[0].ReferenceLocator
			if p.Name != w.name || p.VersionInfo != w.version || !strings.HasPrefix(p.Comment, w.line+", image reg.test/sdks/"+w.name+"@sha256:") ||
				!strings.HasPrefix(purl, "pkg:oci/"+w.name+"@sha256%3A") || !strings.Contains(purl, "repository_url=reg.test%2Fsdks%2F"+w.name) ||
				!strings.Contains(purl, "tag="+w.tag) {
				t.Errorf("package %d = %+v, want %s %s from %q, tag %s", i, p, w.name, w.version, w.line, w.tag)
			}
		}
	}
}

// TestLandedFollowsTheTarget: with --target, the SDKs that land are those
// of that stage's FROM chain.
func TestLandedFollowsTheTarget(t *testing.T) {
	df := `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
FROM busybox AS a
SDK golang@1.23
FROM a AS b
SDK python@3.11.9 --to=/py
FROM busybox
SDK nodejs@20.18
`
	s, tags := sdkStub(df)
	s.opts["target"] = "A"
	r, err := newRun(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	pl, _, err := r.resolveSDKs(context.Background(), tags)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sdk := range pl.landed(0) {
		got = append(got, sdk.res.Ref)
	}
	if strings.Join(got, " ") != "golang@1.23" {
		t.Errorf("landed with --target=A: %v, want [golang@1.23]", got)
	}
}

// TestSPDXNamesTheSigner: an SDK whose signature was verified says by whom
// and under which policy, as the build's progress does; one without says
// nothing of a signer.
func TestSPDXNamesTheSigner(t *testing.T) {
	signed := resolver.Resolution{Ref: "golang@1.23", Platform: "golang", Version: "1.23.4", Repository: "reg.test/sdks/golang", Tag: "bookworm-1.23.4",
		Digest: digest.FromString("index"), SignedBy: "signed by key sha256:ab12, policy acme"}
	plain := signed
	plain.Ref, plain.Platform, plain.Repository, plain.SignedBy = "python@3.11", "python", "reg.test/sdks/python", ""
	dt, err := spdx([]sbomSDK{{res: signed, image: digest.FromString("amd64"), line: 3}, {res: plain, image: digest.FromString("py"), line: 4}}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(dt, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SDK golang@1.23 (Dockerfile line 3), image reg.test/sdks/golang@" + digest.FromString("amd64").String() + ", signed by key sha256:ab12, policy acme",
		"SDK python@3.11 (Dockerfile line 4), image reg.test/sdks/python@" + digest.FromString("py").String(),
	}
	for i, w := range want {
		if doc.Packages[i].Comment != w {
			t.Errorf("package %d's comment = %q, want %q", i, doc.Packages[i].Comment, w)
		}
	}
	if doc.CreationInfo.Created != "1970-01-01T00:00:00Z" {
		t.Errorf("created %q", doc.CreationInfo.Created)
	}
}
