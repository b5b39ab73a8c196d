package ociimage

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pusher writes images to a plain-HTTP registry (the lab's), skipping tags
// that already point at the exact manifest it would push. Pushed and Skipped
// count its writes.
type Pusher struct {
	registry string
	opts     []remote.Option
	verbose  bool

	Pushed, Skipped atomic.Int64
}

// NewPusher returns a Pusher to registry (host:port) that stops when ctx
// ends; verbose also logs the tags that are already up to date.
func NewPusher(ctx context.Context, registry string, verbose bool) *Pusher {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &Pusher{
		registry: registry,
		verbose:  verbose,
		opts: []remote.Option{
			remote.WithContext(ctx),
			remote.WithAuth(authn.Anonymous),
			remote.WithTransport(tr),
			remote.WithJobs(4),
		},
	}
}

func (p *Pusher) tag(repoTag string) (name.Tag, error) {
	return name.NewTag(p.registry+"/"+repoTag, name.Insecure, name.StrictValidation)
}

// upToDate reports whether t already points at want.
func (p *Pusher) upToDate(t name.Tag, want v1.Hash) bool {
	d, err := remote.Head(t, p.opts...)
	return err == nil && d.Digest == want
}

// Image pushes img as repoTag unless it is already there; returns its digest.
func (p *Pusher) Image(repoTag string, img v1.Image) (v1.Hash, error) {
	return p.Write(repoTag, img, false)
}

// Write is Image; quiet pushes are counted but not logged (unless -v).
func (p *Pusher) Write(repoTag string, img v1.Image, quiet bool) (v1.Hash, error) {
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return p.push(repoTag, want, "", quiet, func(t name.Tag) error { return remote.Write(t, img, p.opts...) })
}

// Index pushes an image index as repoTag unless it is already there.
func (p *Pusher) Index(repoTag string, idx v1.ImageIndex) (v1.Hash, error) {
	want, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return p.push(repoTag, want, " index", false, func(t name.Tag) error { return remote.WriteIndex(t, idx, p.opts...) })
}

// push tags want as repoTag with put, unless the tag already points at it.
func (p *Pusher) push(repoTag string, want v1.Hash, kind string, quiet bool, put func(name.Tag) error) (v1.Hash, error) {
	t, err := p.tag(repoTag)
	if err != nil {
		return v1.Hash{}, err
	}
	if p.upToDate(t, want) {
		p.Skipped.Add(1)
		if p.verbose {
			log.Printf("ok   %s (%s)", t, short(want))
		}
		return want, nil
	}
	start := time.Now()
	if err := put(t); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", t, err)
	}
	p.Pushed.Add(1)
	if !quiet || p.verbose {
		log.Printf("push%s %s %s (%s)", kind, t, short(want), time.Since(start).Round(time.Millisecond))
	}
	return want, nil
}

func short(h v1.Hash) string {
	s := h.String()
	if len(s) > 19 {
		return s[:19]
	}
	return s
}

// Tags lists the tags of repo (a repository path in the registry).
func (p *Pusher) Tags(repo string) ([]string, error) {
	r, err := name.NewRepository(p.registry+"/"+repo, name.Insecure)
	if err != nil {
		return nil, err
	}
	return remote.List(r, p.opts...)
}

// Registry is the host:port the Pusher writes to.
func (p *Pusher) Registry() string { return p.registry }
