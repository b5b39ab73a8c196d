package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newImage returns a single-platform OCI image (OCI manifest and config
// media types) with the given config and layers, each one history entry.
func newImage(plat v1.Platform, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: epoch}
	cf.OS = plat.OS
	cf.Architecture = plat.Architecture
	cf.Variant = plat.Variant
	cf.Config = cfg
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{
			Layer:     l,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "sdkfront lab/seed"},
		})
	}
	return mutate.Append(img, adds...)
}

// pusher writes images to the lab registry, skipping tags that already
// point at the exact manifest it would push.
type pusher struct {
	registry string
	opts     []remote.Option
	verbose  bool

	pushed, skipped atomic.Int64
}

func newPusher(ctx context.Context, registry string, verbose bool) *pusher {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &pusher{
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

func (p *pusher) tag(repoTag string) (name.Tag, error) {
	return name.NewTag(p.registry+"/"+repoTag, name.Insecure, name.StrictValidation)
}

// upToDate reports whether t already points at want.
func (p *pusher) upToDate(t name.Tag, want v1.Hash) bool {
	d, err := remote.Head(t, p.opts...)
	return err == nil && d.Digest == want
}

// image pushes img as repoTag unless it is already there; returns its digest.
func (p *pusher) image(repoTag string, img v1.Image) (v1.Hash, error) {
	return p.write(repoTag, img, false)
}

// write is image; quiet pushes are counted but not logged (unless -v).
func (p *pusher) write(repoTag string, img v1.Image, quiet bool) (v1.Hash, error) {
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return p.push(repoTag, want, "", quiet, func(t name.Tag) error { return remote.Write(t, img, p.opts...) })
}

// index pushes an image index as repoTag unless it is already there.
func (p *pusher) index(repoTag string, idx v1.ImageIndex) (v1.Hash, error) {
	want, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return p.push(repoTag, want, " index", false, func(t name.Tag) error { return remote.WriteIndex(t, idx, p.opts...) })
}

// push tags want as repoTag with put, unless the tag already points at it.
func (p *pusher) push(repoTag string, want v1.Hash, kind string, quiet bool, put func(name.Tag) error) (v1.Hash, error) {
	t, err := p.tag(repoTag)
	if err != nil {
		return v1.Hash{}, err
	}
	if p.upToDate(t, want) {
		p.skipped.Add(1)
		if p.verbose {
			logf("ok   %s (%s)", t, short(want))
		}
		return want, nil
	}
	start := time.Now()
	if err := put(t); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", t, err)
	}
	p.pushed.Add(1)
	if !quiet || p.verbose {
		logf("push%s %s %s (%s)", kind, t, short(want), time.Since(start).Round(time.Millisecond))
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

// runJobs runs jobs on n workers and returns the first error.
func runJobs(n int, jobs []func() error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	ch := make(chan func() error)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range ch {
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					continue // drain: stop at the first error
				}
				if err := job(); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return first
}
