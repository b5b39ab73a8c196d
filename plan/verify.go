package plan

import (
	"context"
	"sync"

	"github.com/sdkfront/sdkfront/resolver"
)

// verified remembers Options.Verify's verdict on each digest.
type verified struct {
	mu   sync.Mutex
	done map[string]*verdict // by res.Pinned()
}

type verdict struct {
	once sync.Once
	err  error
}

// Verify checks a resolved SDK with Options.Verify before it is pinned:
// the one place both hosts pass every digest they resolve or read from the
// lock, so that a check of its signatures is written once. Each digest is
// checked once, however many lines and platforms resolve to it.
func (p *Plan) Verify(ctx context.Context, res resolver.Resolution) error {
	if p.opts.Verify == nil {
		return nil
	}
	p.verified.mu.Lock()
	if p.verified.done == nil {
		p.verified.done = map[string]*verdict{}
	}
	v, ok := p.verified.done[res.Pinned()]
	if !ok {
		v = &verdict{}
		p.verified.done[res.Pinned()] = v
	}
	p.verified.mu.Unlock()
	v.once.Do(func() { v.err = p.opts.Verify(ctx, res) })
	return v.err
}
