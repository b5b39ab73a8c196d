// Command sbomscan is a BuildKit SBOM generator: the lab's stand-in for
// docker/buildkit-syft-scanner, which cannot be pulled without internet
// access. `make image` runs it with
//
//	--opt attest:sbom=generator=127.0.0.1:5000/sdkfront-sbom:dev
//
// It follows BuildKit's SBOM scanning protocol (v0.34.2,
// frontend/attestations/sbom/sbom.go and docs/attestations/sbom-protocol.md):
// BuildKit mounts the build result read-only at $BUILDKIT_SCAN_SOURCE (and
// other stages or contexts under $BUILDKIT_SCAN_SOURCE_EXTRAS, if any) and
// expects one in-toto statement with an SPDX predicate per scanned
// filesystem in $BUILDKIT_SCAN_DESTINATION/<name>.spdx.json, where <name> is
// the last path element of the scanned root ("sbom" for the result itself).
//
// What it finds is what the Go linker recorded: every ELF, Mach-O or PE file
// that carries Go build information (debug/buildinfo) becomes an SPDX file,
// generated from its main module, which depends on the Go standard library
// and on every module linked into it. Nothing else (no OS packages, no
// licenses) is reported.
//
// Outside BuildKit, `sbomscan [-name NAME] DIR` prints the SPDX document for
// DIR on stdout.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "sbomscan: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sbomscan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "document name (default: the directory's base name)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sbomscan [-name NAME] DIR   (as a BuildKit SBOM generator: no arguments, BUILDKIT_SCAN_* in the environment)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	created := creationTime()
	if fs.NArg() > 0 {
		if fs.NArg() != 1 {
			fs.Usage()
			return errors.New("expected one directory")
		}
		dir := fs.Arg(0)
		n := *name
		if n == "" {
			n = filepath.Base(filepath.Clean(dir))
		}
		doc, err := scan(dir, n, created)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return scanForBuildKit(os.Getenv("BUILDKIT_SCAN_SOURCE"), os.Getenv("BUILDKIT_SCAN_SOURCE_EXTRAS"),
		os.Getenv("BUILDKIT_SCAN_DESTINATION"), created, stderr)
}

// scanForBuildKit implements the protocol: the source (required), every
// directory in extras (optional: a missing or empty extras is no error),
// one <name>.spdx.json statement each in dest.
func scanForBuildKit(source, extras, dest string, created time.Time, log io.Writer) error {
	if source == "" || dest == "" {
		return errors.New("BUILDKIT_SCAN_SOURCE and BUILDKIT_SCAN_DESTINATION must be set (or give a directory to scan)")
	}
	targets := []string{source}
	if extras != "" {
		entries, err := os.ReadDir(extras)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				targets = append(targets, filepath.Join(extras, e.Name()))
			}
		}
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, dir := range targets {
		n := filepath.Base(filepath.Clean(dir))
		doc, err := scan(dir, n, created)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", n, err)
		}
		st := statement{
			Type:          "https://in-toto.io/Statement/v0.1",
			PredicateType: "https://spdx.dev/Document",
			Subject:       []subject{}, // BuildKit fills in the image
			Predicate:     doc,
		}
		dt, err := json.Marshal(st)
		if err != nil {
			return err
		}
		out := filepath.Join(dest, n+".spdx.json")
		if err := os.WriteFile(out, dt, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "sbomscan: %s: %d Go binaries, %d packages -> %s\n", n, len(doc.Files), len(doc.Packages), out)
	}
	return nil
}

// creationTime is SOURCE_DATE_EPOCH when set (reproducible documents), else
// now.
func creationTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}

// statement is an in-toto v0.1 statement.
type statement struct {
	Type          string    `json:"_type"`
	PredicateType string    `json:"predicateType"`
	Subject       []subject `json:"subject"`
	Predicate     *document `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
