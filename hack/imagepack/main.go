// Command imagepack packs a static binary into a FROM-scratch OCI image for
// the host platform and pushes it to a plain-HTTP registry (the lab's): the
// images `make image` builds the release with.
//
//	imagepack frontend -binary PATH -image REF [-offline]
//	imagepack sbomscan -binary PATH -image REF
//
// frontend is sdkfront's frontend image (/sdkfront, with BuildKit's frontend
// labels; `make frontend-image`), or any Dockerfile frontend packed alike
// (lab/compat packs the stock one). sbomscan is hack/sbomscan as a BuildKit
// SBOM generator (`make sbom-image`). REF is host:port/repo:tag; a tag that
// already points at the same manifest is left alone. imagepack prints
// REF@DIGEST.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sdkfront/sdkfront/internal/ociimage"
)

// createdBy is the history entry of every image imagepack packs.
const createdBy = "sdkfront hack/imagepack"

func main() {
	log.SetFlags(0)
	log.SetPrefix("imagepack: ")
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: imagepack frontend -binary PATH -image REF [-offline]")
	fmt.Fprintln(w, "       imagepack sbomscan -binary PATH -image REF")
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("missing subcommand")
	}
	cmd := args[0]
	if cmd != "frontend" && cmd != "sbomscan" {
		usage(stderr)
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
	fs := flag.NewFlagSet("imagepack "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("binary", "", "static binary to pack (required)")
	image := fs.String("image", "", "image to push, host:port/repo:tag (required)")
	verbose := fs.Bool("v", false, "also log a tag that is already up to date")
	var offline *bool
	if cmd == "frontend" {
		offline = fs.Bool("offline", false, "the offline variant: with moby.buildkit.frontend.network.none=true")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments: %q", cmd, fs.Args())
	}
	if *binary == "" || *image == "" {
		return fmt.Errorf("%s: -binary and -image are required", cmd)
	}
	registry, repoTag, err := splitRef(*image)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}

	bs := ociimage.NewBlobs("") // in memory only: nothing is cached on disk
	plat := ociimage.HostPlatform()
	var img v1.Image
	if cmd == "frontend" {
		img, err = frontendImage(bs, plat, *binary, *offline)
	} else {
		img, err = sbomScannerImage(bs, plat, *binary)
	}
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dgst, err := ociimage.NewPusher(ctx, registry, *verbose).Image(repoTag, img)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s@%s\n", *image, dgst)
	return nil
}

// splitRef splits an image reference with an explicit registry and tag
// (host:port/repo:tag) into the registry and repo:tag.
func splitRef(ref string) (registry, repoTag string, err error) {
	t, err := name.NewTag(ref, name.Insecure, name.StrictValidation)
	if err != nil {
		return "", "", fmt.Errorf("-image %q: %w", ref, err)
	}
	registry = t.RegistryStr()
	if !strings.HasPrefix(ref, registry+"/") {
		return "", "", fmt.Errorf("-image %q: want host:port/repo:tag, with the registry spelled out", ref)
	}
	return registry, t.RepositoryStr() + ":" + t.TagStr(), nil
}
