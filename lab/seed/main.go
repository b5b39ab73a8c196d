// Command seed fills the lab registry (lab/lab.sh) with the images the
// sdkfront tests and demo use. It is idempotent: a tag that already points at
// the manifest seed would push is skipped, and big tarballs (real Go
// toolchains) are cached under -cache, so seeding again takes seconds.
//
//	seed [-registry 127.0.0.1:5000] busybox
//	seed [-registry 127.0.0.1:5000] sdks [-cache .lab/cache] [-go 1.23.4,1.22.10]
//	seed [-registry 127.0.0.1:5000] bench [flags]
//
// The registry defaults to $LAB_REGISTRY; see docs/lab.md for what is pushed.
// The release images (sdkfront:dev, sdkfront-sbom:dev) are packed by
// hack/imagepack, not here: seed is a harness.
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
	"time"

	"github.com/sdkfront/sdkfront/internal/ociimage"
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
		fmt.Fprintln(stderr, "usage: seed [-registry host:port] busybox|sdks|bench [flags]")
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
	)
	switch cmd {
	case "busybox":
		busybox = fs.String("busybox", "/bin/busybox", "static busybox binary (Debian busybox-static)")
	case "sdks":
		goVersions = fs.String("go", "1.23.4,1.22.10", "Go toolchain versions; the first is bookworm-default")
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
	p := ociimage.NewPusher(ctx, *registry, *verbose)
	bs := ociimage.NewBlobs(*cache)
	plat := ociimage.HostPlatform()

	switch cmd {
	case "busybox":
		img, err := busyboxImage(bs, plat, *busybox)
		if err != nil {
			return err
		}
		if _, err := p.Image("lab/busybox:latest", img); err != nil {
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
	}
	logf("%s: %d pushed, %d already up to date (%s)", cmd, p.Pushed.Load(), p.Skipped.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}
