package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// memStore is an in-memory Store: referrers by repository and subject,
// content by digest, and a count of every call.
type memStore struct {
	mu        sync.Mutex
	referrers map[string][]ocispec.Descriptor // repo@subject
	content   map[digest.Digest][]byte
	noAPI     bool          // answer Referrers with ErrNoReferrersAPI
	fetchErr  error         // if set, every Fetch fails with it
	block     chan struct{} // if set, every call waits for it or ctx

	referrerCalls, fetchCalls, tagCalls atomic.Int64
}

func newMemStore() *memStore {
	return &memStore{referrers: map[string][]ocispec.Descriptor{}, content: map[digest.Digest][]byte{}}
}

func (m *memStore) calls() int64 {
	return m.referrerCalls.Load() + m.fetchCalls.Load() + m.tagCalls.Load()
}

func (m *memStore) wait(ctx context.Context) error {
	if m.block == nil {
		return nil
	}
	select {
	case <-m.block:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *memStore) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	m.referrerCalls.Add(1)
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	if m.noAPI {
		return nil, ErrNoReferrersAPI
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ocispec.Descriptor
	for _, d := range m.referrers[repo+"@"+subject.String()] {
		if d.ArtifactType == artifactType {
			out = append(out, d)
		}
	}
	return out, nil
}

func (m *memStore) Fetch(ctx context.Context, repo string, desc ocispec.Descriptor, maxBytes int64) ([]byte, error) {
	m.fetchCalls.Add(1)
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	if m.fetchErr != nil {
		return nil, m.fetchErr
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dt, ok := m.content[desc.Digest]
	if !ok {
		return nil, fmt.Errorf("%s: %w", desc.Digest, ErrNotFound)
	}
	if int64(len(dt)) > maxBytes {
		return nil, fmt.Errorf("%s: %w", desc.Digest, ErrBounds)
	}
	return dt, nil
}

// FetchTag serves the referrers tag schema's index from the same
// referrers the API would list.
func (m *memStore) FetchTag(ctx context.Context, repo, tag string, maxBytes int64) ([]byte, error) {
	m.tagCalls.Add(1)
	if err := m.wait(ctx); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var manifests []ocispec.Descriptor
	for k, ds := range m.referrers {
		for _, d := range ds {
			if k == repo+"@"+tagSubject(tag) {
				manifests = append(manifests, d)
			}
		}
	}
	if manifests == nil {
		return nil, ErrNotFound
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	idx.SchemaVersion = 2
	return json.Marshal(idx)
}

func tagSubject(tag string) string {
	alg, hex, _ := cutDash(tag)
	return alg + ":" + hex
}

func cutDash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '-' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (m *memStore) put(dt []byte) ocispec.Descriptor {
	d := digest.FromBytes(dt)
	m.mu.Lock()
	m.content[d] = dt
	m.mu.Unlock()
	return ocispec.Descriptor{Digest: d, Size: int64(len(dt))}
}

// attach stores blob as a signature of subject: a manifest with subject,
// artifact type and one layer, listed as a referrer. It returns the
// manifest's descriptor, the signature digest a verdict names.
func (m *memStore) attach(t testing.TB, repo string, subject ocispec.Descriptor, artifactType, layerType string, blob []byte) ocispec.Descriptor {
	t.Helper()
	layer := m.put(blob)
	layer.MediaType = layerType
	cfg := m.put([]byte("{}"))
	cfg.MediaType = ocispec.MediaTypeEmptyJSON
	man := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
	}
	man.SchemaVersion = 2
	dt, err := json.Marshal(man)
	if err != nil {
		t.Fatal(err)
	}
	d := m.put(dt)
	d.MediaType = ocispec.MediaTypeImageManifest
	d.ArtifactType = artifactType
	m.mu.Lock()
	k := repo + "@" + subject.Digest.String()
	m.referrers[k] = append(m.referrers[k], d)
	m.mu.Unlock()
	return d
}
