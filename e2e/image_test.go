package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The frontend image that `make image` builds from cmd/frontend/Dockerfile
// and pushes as $LAB_REGISTRY/sdkfront:multi and :<version> (`make test-e2e`
// runs `make image` first). These tests only read it from the registry.

// imagePlatforms are the platforms of the stock docker/dockerfile image that
// BuildKit and Go both support, and the ELF machine each binary must be for.
var imagePlatforms = map[string]struct {
	machine elf.Machine
	class   elf.Class
	order   string
}{
	"linux/amd64":   {elf.EM_X86_64, elf.ELFCLASS64, "LittleEndian"},
	"linux/arm64":   {elf.EM_AARCH64, elf.ELFCLASS64, "LittleEndian"},
	"linux/arm/v7":  {elf.EM_ARM, elf.ELFCLASS32, "LittleEndian"},
	"linux/s390x":   {elf.EM_S390, elf.ELFCLASS64, "BigEndian"},
	"linux/ppc64le": {elf.EM_PPC64, elf.ELFCLASS64, "LittleEndian"},
	"linux/riscv64": {elf.EM_RISCV, elf.ELFCLASS64, "LittleEndian"},
}

// The frontend capabilities of the stock Dockerfile frontend image (see
// hack/imagepack); moby.buildkit.frontend.network.none must not be set.
const stockCaps = "moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"

var ociKeys = []string{
	"org.opencontainers.image.title",
	"org.opencontainers.image.version",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.source",
	"org.opencontainers.image.created",
}

// frontendIndex is the pushed index with its manifests, read once.
type frontendIndex struct {
	ref       name.Reference
	digest    v1.Hash
	manifest  *v1.IndexManifest
	images    map[string]v1.Descriptor // platform -> image manifest descriptor
	atts      map[v1.Hash]v1.Descriptor
	version   string
	revision  string
	remoteOpt []remote.Option
}

func multiImage() string { return envOr("SDKFRONT_MULTI_IMAGE", lab.registry+"/sdkfront:multi") }

func loadFrontendIndex(t *testing.T) *frontendIndex {
	t.Helper()
	ref, err := name.ParseReference(multiImage(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	fi := &frontendIndex{ref: ref, images: map[string]v1.Descriptor{}, atts: map[v1.Hash]v1.Descriptor{},
		remoteOpt: []remote.Option{remote.WithAuth(authn.Anonymous)}}
	desc, err := remote.Get(ref, fi.remoteOpt...)
	if err != nil {
		t.Fatalf("%s: %v\nThe multi-platform frontend image is missing: `make image` builds and pushes it (`make test-e2e` runs it first).", ref, err)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Fatalf("%s is a %s, want an OCI image index", ref, desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	fi.digest = desc.Digest
	if fi.manifest, err = idx.IndexManifest(); err != nil {
		t.Fatal(err)
	}
	for _, m := range fi.manifest.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			h, err := v1.NewHash(m.Annotations["vnd.docker.reference.digest"])
			if err != nil {
				t.Fatalf("attestation manifest %s: %v", m.Digest, err)
			}
			fi.atts[h] = m
			continue
		}
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		if _, dup := fi.images[p]; dup {
			t.Fatalf("two manifests for %s", p)
		}
		fi.images[p] = m
	}
	fi.version = fi.manifest.Annotations["org.opencontainers.image.version"]
	fi.revision = fi.manifest.Annotations["org.opencontainers.image.revision"]
	return fi
}

func (fi *frontendIndex) image(t *testing.T, platform string) v1.Image {
	t.Helper()
	d, ok := fi.images[platform]
	if !ok {
		t.Fatalf("no %s image in %s", platform, fi.ref)
	}
	img, err := remote.Image(fi.ref.Context().Digest(d.Digest.String()), fi.remoteOpt...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// binary returns /sdkfront from the image's single layer, and the layer's
// compressed size.
func (fi *frontendIndex) binary(t *testing.T, platform string) ([]byte, int64) {
	t.Helper()
	layers, err := fi.image(t, platform).Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%s: %d layers, want 1 (FROM scratch + the binary)", platform, len(layers))
	}
	size, err := layers[0].Size()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var bin []byte
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if strings.TrimPrefix(h.Name, "/") == "sdkfront" {
			if h.Mode&0o111 == 0 {
				t.Errorf("%s: /sdkfront is not executable (%o)", platform, h.Mode)
			}
			if bin, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if bin == nil {
		t.Fatalf("%s: no /sdkfront in the layer (entries %q)", platform, names)
	}
	return bin, size
}

// TestFrontendImageIndex: one manifest per platform, each with the frontend labels,
// the OCI annotations and an attestation manifest; the tags agree.
func TestFrontendImageIndex(t *testing.T) {
	fi := loadFrontendIndex(t)
	for p := range imagePlatforms {
		if _, ok := fi.images[p]; !ok {
			t.Errorf("the index has no %s image", p)
		}
	}
	for p := range fi.images {
		if _, ok := imagePlatforms[p]; !ok {
			t.Errorf("unexpected platform %s in the index", p)
		}
	}
	for _, k := range ociKeys {
		if fi.manifest.Annotations[k] == "" {
			t.Errorf("index annotation %s is missing (annotations %v)", k, fi.manifest.Annotations)
		}
	}
	if fi.version == "" || fi.version == "dev" || len(fi.revision) != 40 {
		t.Errorf("version %q, revision %q: want what `git describe` and `git rev-parse HEAD` print", fi.version, fi.revision)
	}
	// The version tag is the same index.
	vref, err := name.ParseReference(fi.ref.Context().Name()+":"+fi.version, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := remote.Head(vref, fi.remoteOpt...); err != nil {
		t.Errorf("%s: %v", vref, err)
	} else if d.Digest != fi.digest {
		t.Errorf("%s is %s, %s is %s: want the same index", vref, d.Digest, fi.ref, fi.digest)
	}

	for p, d := range fi.images {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			img := fi.image(t, p)
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.MediaType != types.OCIManifestSchema1 {
				t.Errorf("manifest media type %s", m.MediaType)
			}
			for _, k := range ociKeys {
				if m.Annotations[k] != fi.manifest.Annotations[k] {
					t.Errorf("manifest annotation %s = %q, index says %q", k, m.Annotations[k], fi.manifest.Annotations[k])
				}
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			want := d.Platform
			if cf.OS != want.OS || cf.Architecture != want.Architecture || cf.Variant != want.Variant {
				t.Errorf("config platform %s/%s/%s, index says %s", cf.OS, cf.Architecture, cf.Variant, p)
			}
			labels := cf.Config.Labels
			if labels["moby.buildkit.frontend.caps"] != stockCaps {
				t.Errorf("moby.buildkit.frontend.caps = %q, want %q", labels["moby.buildkit.frontend.caps"], stockCaps)
			}
			if v, ok := labels["moby.buildkit.frontend.network.none"]; ok {
				t.Errorf("moby.buildkit.frontend.network.none=%q is set; sdkfront lists tags over the network", v)
			}
			for _, k := range []string{"org.opencontainers.image.version", "org.opencontainers.image.revision", "org.opencontainers.image.source", "org.opencontainers.image.title"} {
				if labels[k] != fi.manifest.Annotations[k] {
					t.Errorf("label %s = %q, annotation %q", k, labels[k], fi.manifest.Annotations[k])
				}
			}
			if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/sdkfront" {
				t.Errorf("entrypoint %q, want [/sdkfront]", cf.Config.Entrypoint)
			}
			if _, ok := fi.atts[d.Digest]; !ok {
				t.Errorf("no attestation manifest for %s (%s)", p, d.Digest)
			}
		})
	}
}

// TestFrontendImageBinaries: every image holds a static executable for its own
// platform; the amd64 one prints the stamped version.
func TestFrontendImageBinaries(t *testing.T) {
	fi := loadFrontendIndex(t)
	for p, want := range imagePlatforms {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			bin, size := fi.binary(t, p)
			t.Logf("%s: layer %.1f MiB compressed, /sdkfront %.1f MiB", p, float64(size)/(1<<20), float64(len(bin))/(1<<20))
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("/sdkfront is not an ELF file: %v", err)
			}
			defer f.Close()
			if f.Machine != want.machine || f.Class != want.class || f.ByteOrder.String() != want.order {
				t.Errorf("ELF %s %s %s, want %s %s %s", f.Machine, f.Class, f.ByteOrder, want.machine, want.class, want.order)
			}
			if f.Type != elf.ET_EXEC {
				t.Errorf("ELF type %s, want ET_EXEC (a static, non-PIE executable)", f.Type)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Error("has a PT_INTERP header: dynamically linked")
				}
			}
			if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
				t.Errorf("DT_NEEDED %q (%v): want none", libs, err)
			}
			if !bytes.Contains(bin, []byte(fi.version)) {
				t.Errorf("the version %q is not in the binary", fi.version)
			}
			if p == "linux/"+runtime.GOARCH {
				exe := filepath.Join(t.TempDir(), "sdkfront")
				if err := os.WriteFile(exe, bin, 0o755); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(exe, "--version").Output()
				if err != nil {
					t.Fatalf("sdkfront --version: %v", err)
				}
				if got, want := strings.TrimSpace(string(out)), fmt.Sprintf("sdkfront %s (%s)", fi.version, fi.revision); got != want {
					t.Errorf("sdkfront --version printed %q, want %q", got, want)
				}
			}
		})
	}
}

// intotoStatement is what an attestation layer holds.
type intotoStatement struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate json.RawMessage `json:"predicate"`
}

// TestFrontendImageAttestations: each platform has SLSA provenance (mode=max, built
// by sdkfront with the Go toolchain from the lab's sdks/golang) and an SPDX
// SBOM from hack/sbomscan that lists the modules linked into /sdkfront.
func TestFrontendImageAttestations(t *testing.T) {
	fi := loadFrontendIndex(t)
	buildkit := requiredVersion(t, "github.com/moby/buildkit")
	goVersion := goModGo(t)
	for p, d := range fi.images {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			ad, ok := fi.atts[d.Digest]
			if !ok {
				t.Fatalf("no attestation manifest for %s", p)
			}
			att, err := remote.Image(fi.ref.Context().Digest(ad.Digest.String()), fi.remoteOpt...)
			if err != nil {
				t.Fatal(err)
			}
			layers, err := att.Layers()
			if err != nil {
				t.Fatal(err)
			}
			stmts := map[string]intotoStatement{}
			for _, l := range layers {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				var st intotoStatement
				err = json.NewDecoder(rc).Decode(&st)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range st.Subject {
					if s.Digest["sha256"] != d.Digest.Hex {
						t.Errorf("%s statement is about %v, want %s", st.PredicateType, s.Digest, d.Digest)
					}
				}
				stmts[st.PredicateType] = st
			}

			prov, ok := stmts["https://slsa.dev/provenance/v1"]
			if !ok {
				t.Fatalf("no SLSA provenance; statements: %v", predicateTypes(stmts))
			}
			var pv struct {
				BuildDefinition struct {
					ExternalParameters struct {
						Request struct {
							Frontend string            `json:"frontend"`
							Args     map[string]string `json:"args"`
						} `json:"request"`
					} `json:"externalParameters"`
					InternalParameters struct {
						BuildConfig struct {
							LLBDefinition []json.RawMessage `json:"llbDefinition"`
						} `json:"buildConfig"`
					} `json:"internalParameters"`
					ResolvedDependencies []struct {
						URI string `json:"uri"`
					} `json:"resolvedDependencies"`
				} `json:"buildDefinition"`
			}
			if err := json.Unmarshal(prov.Predicate, &pv); err != nil {
				t.Fatal(err)
			}
			args := pv.BuildDefinition.ExternalParameters.Request.Args
			if args["source"] == "" || !strings.Contains(args["source"], "sdkfront") {
				t.Errorf("provenance: the frontend was %q, want sdkfront (BUILDKIT_SYNTAX)", args["source"])
			}
			if args["build-arg:GO_VERSION"] != goVersion {
				t.Errorf("provenance: GO_VERSION %q, want go.mod's %q", args["build-arg:GO_VERSION"], goVersion)
			}
			var deps []string
			for _, r := range pv.BuildDefinition.ResolvedDependencies {
				deps = append(deps, r.URI)
			}
			// The SDK, pinned by digest (sdkfront reads the tag itself).
			sdk := "/sdks/golang?digest=" + manifestDigest(t, "sdks/golang", "bookworm-"+goVersion).String()
			if !containsFragment(deps, sdk) {
				t.Errorf("provenance: the Go %s toolchain image (%s) is not a resolved dependency: %q", goVersion, sdk, deps)
			}
			if len(pv.BuildDefinition.InternalParameters.BuildConfig.LLBDefinition) == 0 {
				t.Error("provenance: no LLB definition in buildConfig: want mode=max")
			}

			sb, ok := stmts["https://spdx.dev/Document"]
			if !ok {
				t.Fatalf("no SPDX SBOM; statements: %v", predicateTypes(stmts))
			}
			var doc struct {
				SPDXVersion  string `json:"spdxVersion"`
				CreationInfo struct {
					Creators []string `json:"creators"`
				} `json:"creationInfo"`
				Packages []struct {
					Name    string `json:"name"`
					Version string `json:"versionInfo"`
					Refs    []struct {
						Type    string `json:"referenceType"`
						Locator string `json:"referenceLocator"`
					} `json:"externalRefs"`
				} `json:"packages"`
				Files []struct {
					Name      string `json:"fileName"`
					Checksums []struct {
						Algorithm string `json:"algorithm"`
						Value     string `json:"checksumValue"`
					} `json:"checksums"`
				} `json:"files"`
			}
			if err := json.Unmarshal(sb.Predicate, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.SPDXVersion != "SPDX-2.3" {
				t.Errorf("spdxVersion %q", doc.SPDXVersion)
			}
			if !containsFragment(doc.CreationInfo.Creators, "Tool: sdkfront-sbomscan-") {
				t.Errorf("creators %q: want hack/sbomscan", doc.CreationInfo.Creators)
			}
			pkgs := map[string]string{}
			purls := map[string]bool{}
			for _, pk := range doc.Packages {
				pkgs[pk.Name] = pk.Version
				for _, r := range pk.Refs {
					if r.Type == "purl" {
						purls[r.Locator] = true
					}
				}
			}
			if pkgs["github.com/moby/buildkit"] != buildkit {
				t.Errorf("SBOM: github.com/moby/buildkit %q, want %q (go.mod)", pkgs["github.com/moby/buildkit"], buildkit)
			}
			if !purls["pkg:golang/github.com/moby/buildkit@"+buildkit] {
				t.Errorf("SBOM: no purl pkg:golang/github.com/moby/buildkit@%s", buildkit)
			}
			if pkgs["stdlib"] != "go"+goVersion {
				t.Errorf("SBOM: stdlib %q, want go%s (built with go.mod's toolchain)", pkgs["stdlib"], goVersion)
			}
			if _, ok := pkgs["github.com/sdkfront/sdkfront"]; !ok {
				t.Error("SBOM: the main module github.com/sdkfront/sdkfront is missing")
			}
			bin, _ := fi.binary(t, p)
			sum := sha256.Sum256(bin)
			found := false
			for _, f := range doc.Files {
				if f.Name != "/sdkfront" {
					continue
				}
				for _, c := range f.Checksums {
					if c.Algorithm == "SHA256" && c.Value == hex.EncodeToString(sum[:]) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("SBOM: no file /sdkfront with the binary's SHA256 %x", sum)
			}
		})
	}
}

func predicateTypes[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func containsFragment(list []string, frag string) bool {
	for _, s := range list {
		if strings.Contains(s, frag) {
			return true
		}
	}
	return false
}

// goMod is the main module's go.mod.
func goMod(t *testing.T) string {
	t.Helper()
	dt, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	return string(dt)
}

// goModGo is go.mod's "go" version (the toolchain `make image` uses).
func goModGo(t *testing.T) string {
	t.Helper()
	for _, l := range strings.Split(goMod(t), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "go" {
			return f[1]
		}
	}
	t.Fatal("go.mod has no go line")
	return ""
}

// requiredVersion is the version go.mod requires of module path.
func requiredVersion(t *testing.T, path string) string {
	t.Helper()
	for _, l := range strings.Split(goMod(t), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", path)
	return ""
}
