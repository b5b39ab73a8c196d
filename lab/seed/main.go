// Command seed fills the lab registry (lab/lab.sh) with the images the
// sdkfront tests and demo use. It is idempotent: a tag that already points at
// the manifest seed would push is skipped, and big tarballs (real Go
// toolchains) are cached under -cache, so seeding again takes seconds.
//
//	seed [-registry 127.0.0.1:5000] busybox
//	seed [-registry 127.0.0.1:5000] sdks [-cache .lab/cache] [-go 1.23.4,1.22.10]
//	seed [-registry 127.0.0.1:5000] frontend -binary PATH [-image REG/sdkfront:dev]
//	seed [-registry 127.0.0.1:5000] sbomscan -binary PATH [-image REG/sdkfront-sbom:dev]
//
// The registry defaults to $LAB_REGISTRY; see docs/lab.md for what is pushed.
package main

import (
	"context"
	"debug/elf"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func logf(format string, args ...any) { log.Printf(format, args...) }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("seed: ")
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		log.Fatal(err)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	global := flag.NewFlagSet("seed", flag.ContinueOnError)
	global.SetOutput(stderr)
	registry := global.String("registry", envOr("LAB_REGISTRY", "127.0.0.1:5000"), "registry host:port (plain HTTP, loopback)")
	global.Usage = func() {
		fmt.Fprintln(stderr, "usage: seed [-registry host:port] busybox|sdks|frontend|sbomscan [flags]")
		global.PrintDefaults()
	}
	if err := global.Parse(args); err != nil {
		return err
	}
	if global.NArg() == 0 {
		global.Usage()
		return fmt.Errorf("missing subcommand")
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	if cmd == "bench" { // lab/bench's payloads (bench.go)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return benchMain(ctx, *registry, rest, stderr)
	}

	fs := flag.NewFlagSet("seed "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(registry, "registry", *registry, "registry host:port (plain HTTP, loopback)")
	verbose := fs.Bool("v", false, "also log tags that are already up to date")
	cache := fs.String("cache", envOr("LAB_CACHE", ".lab/cache"), "directory for cached SDK tarballs")
	var (
		busybox    *string
		goVersions *string
		binary     *string
		offline    *bool
		image      *string
	)
	switch cmd {
	case "busybox":
		busybox = fs.String("busybox", "/bin/busybox", "static busybox binary (Debian busybox-static)")
	case "sdks":
		goVersions = fs.String("go", "1.23.4,1.22.10", "Go toolchain versions; the first is bookworm-default")
	case "frontend":
		binary = fs.String("binary", "", "static sdkfront binary (required)")
		image = fs.String("image", "", "image to push (default REGISTRY/sdkfront:dev)")
		offline = fs.Bool("offline", false, "the offline variant: with moby.buildkit.frontend.network.none=true")
	case "sbomscan":
		binary = fs.String("binary", "", "static hack/sbomscan binary (required)")
		image = fs.String("image", "", "image to push (default REGISTRY/sdkfront-sbom:dev)")
	default:
		global.Usage()
		return fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	p := newPusher(ctx, *registry, *verbose)
	bs := newBlobs(*cache)
	plat := hostPlatform()

	switch cmd {
	case "busybox":
		img, err := busyboxImage(bs, plat, *busybox)
		if err != nil {
			return err
		}
		if _, err := p.image("lab/busybox:latest", img); err != nil {
			return err
		}
	case "sdks":
		var versions []string
		for _, v := range strings.Split(*goVersions, ",") {
			if v = strings.TrimSpace(v); v != "" {
				versions = append(versions, v)
			}
		}
		if err := seedSDKs(&seeder{p: p, blobs: bs, plat: plat}, versions); err != nil {
			return err
		}
	case "frontend", "sbomscan":
		if *binary == "" {
			return fmt.Errorf("%s: -binary is required", cmd)
		}
		ref := *image
		if ref == "" {
			ref = *registry + map[string]string{"frontend": "/sdkfront:dev", "sbomscan": "/sdkfront-sbom:dev"}[cmd]
		}
		repoTag, ok := strings.CutPrefix(ref, *registry+"/")
		if !ok {
			return fmt.Errorf("%s: -image %q is not in registry %s", cmd, ref, *registry)
		}
		build := func(bs *blobs, plat v1.Platform, binary string) (v1.Image, error) {
			return frontendImage(bs, plat, binary, offline != nil && *offline)
		}
		if cmd == "sbomscan" {
			build = sbomScannerImage
		}
		img, err := build(bs, plat, *binary)
		if err != nil {
			return err
		}
		dgst, err := p.image(repoTag, img)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s@%s\n", ref, dgst)
	}
	logf("%s: %d pushed, %d already up to date (%s)", cmd, p.pushed.Load(), p.skipped.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}

// elfStatic fails if file asks for a dynamic loader (has a PT_INTERP header).
func elfStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", file)
		}
	}
	return nil
}
