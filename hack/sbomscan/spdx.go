package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/sdkfront/sdkfront/version"
)

// document is an SPDX 2.3 document (JSON serialisation, spdx-schema v2.3).
type document struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      creationInfo   `json:"creationInfo"`
	Packages          []pkg          `json:"packages"`
	Files             []file         `json:"files"`
	Relationships     []relationship `json:"relationships"`
}

type creationInfo struct {
	Created            string   `json:"created"`
	Creators           []string `json:"creators"`
	LicenseListVersion string   `json:"licenseListVersion,omitempty"`
}

type pkg struct {
	Name                  string        `json:"name"`
	SPDXID                string        `json:"SPDXID"`
	VersionInfo           string        `json:"versionInfo,omitempty"`
	Supplier              string        `json:"supplier,omitempty"`
	DownloadLocation      string        `json:"downloadLocation"`
	FilesAnalyzed         bool          `json:"filesAnalyzed"`
	LicenseConcluded      string        `json:"licenseConcluded"`
	LicenseDeclared       string        `json:"licenseDeclared"`
	CopyrightText         string        `json:"copyrightText"`
	Comment               string        `json:"comment,omitempty"`
	ExternalRefs          []externalRef `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string        `json:"primaryPackagePurpose,omitempty"`
}

type externalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type file struct {
	FileName          string     `json:"fileName"`
	SPDXID            string     `json:"SPDXID"`
	FileTypes         []string   `json:"fileTypes"`
	Checksums         []checksum `json:"checksums"`
	LicenseConcluded  string     `json:"licenseConcluded"`
	CopyrightText     string     `json:"copyrightText"`
	LicenseInfoInFile []string   `json:"licenseInfoInFiles"`
}

type checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type relationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const noAssertion = "NOASSERTION"

// goBinary is one file with Go build information.
type goBinary struct {
	path           string // "/sdkfront", relative to the scanned root
	sha1, sha256   string
	info           *debug.BuildInfo
	mainVersion    string // the main module's version, or one stamped by -ldflags -X
	mainVersionVia string // where mainVersion came from
}

// scan walks root (without following symlinks) and describes its Go
// binaries as an SPDX document named name.
func scan(root, name string, created time.Time) (*document, error) {
	var bins []goBinary
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable entries are not ours to judge
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, ok, err := readGoBinary(p)
		if err != nil || !ok {
			return err
		}
		b.path = "/" + filepath.ToSlash(rel)
		bins = append(bins, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buildDocument(name, created, bins), nil
}

// executable magic numbers: ELF, PE ("MZ"), Mach-O (32/64, both byte
// orders, and fat binaries).
var magics = [][]byte{
	[]byte("\x7fELF"), []byte("MZ"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xce, 0xfa, 0xed, 0xfe},
	{0xfe, 0xed, 0xfa, 0xcf}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
}

// readGoBinary reports whether p is an executable with Go build information,
// and if so hashes it.
func readGoBinary(p string) (goBinary, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return goBinary{}, false, nil
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	isExe := false
	for _, m := range magics {
		if bytes.HasPrefix(head, m) {
			isExe = true
			break
		}
	}
	if !isExe {
		return goBinary{}, false, nil
	}
	info, err := buildinfo.Read(f)
	if err != nil {
		return goBinary{}, false, nil // not a Go binary (or too old to say)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return goBinary{}, false, err
	}
	h1, h256 := sha1.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(h1, h256), f); err != nil {
		return goBinary{}, false, fmt.Errorf("%s: %w", p, err)
	}
	b := goBinary{info: info, sha1: hex.EncodeToString(h1.Sum(nil)), sha256: hex.EncodeToString(h256.Sum(nil))}
	b.mainVersion, b.mainVersionVia = mainVersion(info)
	return b, true, nil
}

// stampRE finds "-X <pkg>.<Var>=<value>" in -ldflags; the value ends at a
// space or at the quote that closes a quoted ldflags word.
var stampRE = regexp.MustCompile(`-X[= ]'?"?([^\s='"]+)\.(Version|version|Tag|tag)=([^\s'"]+)`)

// mainVersion is the main module's version from the build information;
// when that is "(devel)" or empty (source builds), a version stamped with
// `-ldflags -X <main module>/...Version=v` or `-X main.version=v` is used
// instead, as SBOM generators commonly do, and its origin is reported.
func mainVersion(info *debug.BuildInfo) (string, string) {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v, ""
	}
	for _, s := range info.Settings {
		if s.Key != "-ldflags" {
			continue
		}
		for _, m := range stampRE.FindAllStringSubmatch(s.Value, -1) {
			pkgPath, val := m[1], m[3]
			if pkgPath == "main" || (info.Main.Path != "" && (pkgPath == info.Main.Path || strings.HasPrefix(pkgPath, info.Main.Path+"/"))) {
				return val, "stamped with -ldflags -X " + pkgPath + "." + m[2]
			}
		}
	}
	return info.Main.Version, ""
}

// module is one package of the document, shared by every binary that links
// the same module version.
type module struct {
	id, path, version string
	stdlib            bool
	comment           string
}

func buildDocument(name string, created time.Time, bins []goBinary) *document {
	doc := &document{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        name,
		CreationInfo: creationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: sdkfront-sbomscan-" + version.Version},
		},
		Packages:      []pkg{},
		Files:         []file{},
		Relationships: []relationship{},
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i].path < bins[j].path })

	rootID := "SPDXRef-Filesystem-" + spdxID(name)
	doc.Packages = append(doc.Packages, pkg{
		Name:             name,
		SPDXID:           rootID,
		DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion,
		LicenseDeclared:  noAssertion,
		CopyrightText:    noAssertion,
		Comment:          "the filesystem BuildKit passed to the scanner; only executables with Go build information are reported",
	})
	doc.Relationships = append(doc.Relationships, relationship{"SPDXRef-DOCUMENT", "DESCRIBES", rootID})

	mods := map[string]*module{} // by SPDX ID
	depends := map[[2]string]bool{}
	addModule := func(m module) string {
		if _, ok := mods[m.id]; !ok {
			mods[m.id] = &m
		}
		return m.id
	}
	for _, b := range bins {
		fileID := "SPDXRef-File-" + spdxID(b.path)
		doc.Files = append(doc.Files, file{
			FileName:          b.path,
			SPDXID:            fileID,
			FileTypes:         []string{"BINARY", "APPLICATION"},
			Checksums:         []checksum{{"SHA1", b.sha1}, {"SHA256", b.sha256}},
			LicenseConcluded:  noAssertion,
			CopyrightText:     noAssertion,
			LicenseInfoInFile: []string{noAssertion},
		})
		doc.Relationships = append(doc.Relationships, relationship{rootID, "CONTAINS", fileID})

		// The main module, per binary (two "(devel)" builds are not the same thing).
		mainPath := b.info.Main.Path
		if mainPath == "" {
			mainPath = b.info.Path // e.g. "command-line-arguments"
		}
		mainID := "SPDXRef-Package-golang-main-" + spdxID(b.path)
		mainComment := "main module of " + b.path + ", built with " + b.info.GoVersion + buildSettings(b.info)
		if b.mainVersionVia != "" {
			mainComment += "; version " + b.mainVersionVia
		}
		addModule(module{id: mainID, path: mainPath, version: b.mainVersion, comment: mainComment})
		doc.Relationships = append(doc.Relationships,
			relationship{fileID, "GENERATED_FROM", mainID},
			relationship{rootID, "CONTAINS", mainID})

		std := addModule(module{
			id:      "SPDXRef-Package-golang-stdlib-" + spdxID(b.info.GoVersion),
			path:    "stdlib",
			version: b.info.GoVersion,
			stdlib:  true,
			comment: "the Go standard library and runtime",
		})
		depends[[2]string{mainID, std}] = true
		for _, d := range b.info.Deps {
			m := module{path: d.Path, version: d.Version}
			if d.Sum != "" {
				m.comment = "go.sum " + d.Sum
			}
			if r := d.Replace; r != nil {
				m.path, m.version = r.Path, r.Version
				m.comment = "replaces " + d.Path + "@" + d.Version
				if r.Sum != "" {
					m.comment += "; go.sum " + r.Sum
				}
				if r.Version == "" {
					m.comment += " (local directory)"
				}
			}
			m.id = "SPDXRef-Package-golang-" + spdxID(m.path+"@"+m.version)
			depends[[2]string{mainID, addModule(m)}] = true
		}
	}

	for _, id := range sortedKeys(mods) {
		m := mods[id]
		p := pkg{
			Name:                  m.path,
			SPDXID:                m.id,
			VersionInfo:           m.version,
			DownloadLocation:      noAssertion,
			LicenseConcluded:      noAssertion,
			LicenseDeclared:       noAssertion,
			CopyrightText:         noAssertion,
			Comment:               m.comment,
			PrimaryPackagePurpose: "LIBRARY",
		}
		if strings.HasPrefix(m.id, "SPDXRef-Package-golang-main-") {
			p.PrimaryPackagePurpose = "APPLICATION"
		}
		if purl := goPURL(m); purl != "" {
			p.ExternalRefs = []externalRef{{"PACKAGE-MANAGER", "purl", purl}}
		}
		doc.Packages = append(doc.Packages, p)
	}
	deps := make([][2]string, 0, len(depends))
	for d := range depends {
		deps = append(deps, d)
	}
	sort.Slice(deps, func(i, j int) bool {
		if deps[i][0] != deps[j][0] {
			return deps[i][0] < deps[j][0]
		}
		return deps[i][1] < deps[j][1]
	})
	for _, d := range deps {
		doc.Relationships = append(doc.Relationships, relationship{d[0], "DEPENDS_ON", d[1]})
	}

	// A namespace unique to this content (SPDX wants a unique URI per document).
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", name)
	for _, b := range bins {
		fmt.Fprintf(h, "%s %s\n", b.path, b.sha256)
	}
	doc.DocumentNamespace = "https://spdx.org/spdxdocs/sdkfront-sbomscan/" + spdxID(name) + "-" + hex.EncodeToString(h.Sum(nil))[:32]
	return doc
}

// buildSettings summarises the build settings that say what was built for
// which platform.
func buildSettings(info *debug.BuildInfo) string {
	var parts []string
	for _, s := range info.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "GOARM", "GOAMD64", "GOARM64", "GORISCV64", "GOPPC64", "CGO_ENABLED", "-tags", "-trimpath", "vcs.revision", "vcs.modified":
			parts = append(parts, s.Key+"="+s.Value)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, " ") + ")"
}

// goPURL is the package URL of a Go module ("pkg:golang/<path>@<version>")
// or of the standard library ("pkg:golang/stdlib@<version without go>").
func goPURL(m *module) string {
	if m.version == "" || m.version == "(devel)" {
		if m.stdlib {
			return ""
		}
		return "pkg:golang/" + purlPath(m.path)
	}
	v := m.version
	if m.stdlib {
		v = strings.TrimPrefix(v, "go")
		// "1.26.8 X:nodwarf5" and the like: keep the release only.
		v, _, _ = strings.Cut(v, " ")
	}
	return "pkg:golang/" + purlPath(m.path) + "@" + purlEscape(v)
}

func purlPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = purlEscape(s)
	}
	return strings.Join(segs, "/")
}

// purlEscape percent-encodes everything but the unreserved characters.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// spdxID turns s into the characters SPDX allows in an element ID
// ([A-Za-z0-9.-]), plus a short hash of s so that distinct inputs never
// collide ("a/b" and "a-b").
func spdxID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(s))
	return strings.Trim(b.String(), "-.") + "-" + hex.EncodeToString(sum[:4])
}
