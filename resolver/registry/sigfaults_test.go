package registry

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/internal/heapmeasure"
	"github.com/sdkfront/sdkfront/internal/testregistry"
	"github.com/sdkfront/sdkfront/trust"
)

// sigFixture is a cosign-signed SDK in ggcr's registry, behind a fault
// proxy: the registry Client is trust's Store over HTTP.
type sigFixture struct {
	proxy    *faultProxy
	base     string // the registry itself, for pushes past the faults
	repo     string // proxy.host/sdks/golang
	subject  ocispecs.Descriptor
	sig      ocispecs.Descriptor // the signature's manifest
	envelope ocispecs.Descriptor // its one layer, the bundle
	policy   *trust.Policy
}

// newSigFixture signs an SDK; api says whether the registry serves the
// referrers API (else the signature is in the referrers tag schema).
func newSigFixture(t *testing.T, api bool) *sigFixture {
	t.Helper()
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(api))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p := newFaultProxy(t, h)
	f := &sigFixture{proxy: p, base: srv.URL, repo: p.host + "/sdks/golang"}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var env []byte
	f.subject, f.sig, env = signedWith(t, srv.URL, "sdks/golang", !api, trust.ArtifactTypeSigstore, trust.ArtifactTypeSigstore,
		func(d ocispecs.Descriptor) []byte { return testregistry.CosignBundle(t, key, f.repo, d.Digest) })
	f.envelope = ocispecs.Descriptor{MediaType: trust.ArtifactTypeSigstore, Digest: digest.FromBytes(env), Size: int64(len(env))}
	f.policy, err = trust.LoadPolicy(fstest.MapFS{
		"sigstore.json": {Data: []byte(`{"version": "1", "policies": [{"name": "k", "registryScopes": ["` + f.repo + `"], "publicKey": "k.pub"}]}`)},
		"k.pub":         {Data: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *sigFixture) verify(ctx context.Context, c *Client, lim trust.Limits) (*trust.Verdict, error) {
	return trust.NewVerifier(f.policy, c, lim).Verify(ctx, trust.Subject{Repo: f.repo, Digest: f.subject.Digest, MediaType: f.subject.MediaType, Size: f.subject.Size})
}

// Request matchers of the signature reads.
var referrersAPI = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/referrers/") }

func (f *sigFixture) referrersTag(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/manifests/sha256-"+f.subject.Digest.Encoded())
}

func (f *sigFixture) sigManifest(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/manifests/"+f.sig.Digest.String())
}

func (f *sigFixture) envelopeBlob(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/blobs/"+f.envelope.Digest.String())
}

// pushManifest pushes a signature manifest past the faults.
func (f *sigFixture) pushManifest(t *testing.T, m ocispecs.Manifest) ocispecs.Descriptor {
	t.Helper()
	m.SchemaVersion, m.MediaType, m.ArtifactType = 2, ocispecs.MediaTypeImageManifest, trust.ArtifactTypeSigstore
	m.Config = ocispecs.Descriptor{MediaType: trust.ArtifactTypeSigstore, Digest: digest.FromString("{}"), Size: 2}
	dt, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := put(t, f.base, "sdks/golang", dt, digest.FromBytes(dt).String())
	d.MediaType, d.ArtifactType = ocispecs.MediaTypeImageManifest, trust.ArtifactTypeSigstore
	return d
}

// listing makes the referrers answer (the API's or the tag's) list
// descs instead of what the registry holds.
func listing(descs ...ocispecs.Descriptor) fault {
	return rewrite(func(_ *http.Request, _ *int, h http.Header, _ []byte) []byte {
		idx := ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: descs}
		idx.SchemaVersion = 2
		dt, err := json.Marshal(idx)
		if err != nil {
			panic(err)
		}
		h.Del("Docker-Content-Digest")
		h.Set("Content-Type", ocispecs.MediaTypeImageIndex)
		return dt
	})
}

// endless answers 200 with prefix and then spaces, up to 1 GiB: a client
// that buffered it whole would hold a gibibyte, one that bounds its read
// hangs up after its limit.
func endless(contentType, prefix string) fault {
	return func(p *faultProxy, w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(w, prefix); err != nil {
			return
		}
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for range (1 << 30) / len(chunk) {
			select {
			case <-r.Context().Done():
				return
			case <-p.done:
				return
			default:
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

// sigFaultRow is one fault in the signature reads and what verification
// must make of it.
type sigFaultRow struct {
	name      string
	tagSchema bool // the registry has no referrers API
	setup     func(t *testing.T, f *sigFixture)
	opts      []Option
	lim       trust.Limits

	ok  bool
	is  []error  // the error matches each
	msg []string // and says each ({repo}, {sig}, {envelope} stand for the fixture's)

	// counts are the requests the proxy must see: the matcher, given the
	// fixture, and how many.
	counts []sigCount
}

type sigCount struct {
	what  string
	match func(f *sigFixture) func(*http.Request) bool
	want  int
}

func referrersCalls(n int) sigCount {
	return sigCount{"referrers API", func(*sigFixture) func(*http.Request) bool { return referrersAPI }, n}
}

func tagCalls(n int) sigCount {
	return sigCount{"referrers tag", func(f *sigFixture) func(*http.Request) bool { return f.referrersTag }, n}
}

func sigCalls(n int) sigCount {
	return sigCount{"signature manifest", func(f *sigFixture) func(*http.Request) bool { return f.sigManifest }, n}
}

func envelopeCalls(n int) sigCount {
	return sigCount{"envelope", func(f *sigFixture) func(*http.Request) bool { return f.envelopeBlob }, n}
}

func anyManifestCalls(n int) sigCount {
	return sigCount{"any manifest", func(*sigFixture) func(*http.Request) bool { return manifests }, n}
}

func anyBlobCalls(n int) sigCount {
	return sigCount{"any blob", func(*sigFixture) func(*http.Request) bool { return blobs }, n}
}

// sigFaultRows are the faults of issue 18's "a hostile registry cannot
// exhaust memory or time through referrers or envelopes". A time bound is
// tested with a fault that cannot finish (stall, drip) and a short budget
// or request timeout; a size bound with a declared size or a body past it
// (TestSignatureFaultsMemory measures the heap of the endless ones).
func sigFaultRows() []sigFaultRow {
	budget := trust.Limits{TimeBudget: time.Second}
	return []sigFaultRow{
		// The referrers API's answer.
		{name: "referrers: clean", ok: true, counts: []sigCount{referrersCalls(1), sigCalls(1), envelopeCalls(1)}},
		{name: "referrers: endless body", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, endless(ocispecs.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[`))
		}, is: []error{trust.ErrBounds}, msg: []string{"the referrers of {repo}@", "an index larger than 4 MiB"},
			counts: []sigCount{referrersCalls(1), anyManifestCalls(0), anyBlobCalls(0)}},
		{name: "referrers: 10,000", setup: func(_ *testing.T, f *sigFixture) {
			descs := []ocispecs.Descriptor{f.sig}
			for i := range 10_000 {
				descs = append(descs, ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageManifest, ArtifactType: trust.ArtifactTypeSigstore,
					Digest: digest.FromString(fmt.Sprint(i)), Size: 600})
			}
			f.proxy.always(referrersAPI, listing(descs...))
		}, is: []error{trust.ErrBounds}, msg: []string{"10001 referrers of type " + trust.ArtifactTypeSigstore + ", more than the 32 considered"},
			counts: []sigCount{referrersCalls(1), anyManifestCalls(0), anyBlobCalls(0)}},
		{name: "referrers: stalled, time budget", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, stall)
		}, lim: budget, is: []error{trust.ErrBounds, context.DeadlineExceeded}, msg: []string{"bounds exceeded: the time budget of 1s ran out"},
			counts: []sigCount{referrersCalls(1), anyManifestCalls(0)}},
		{name: "referrers: stalled, request timeout", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, stall)
		}, opts: []Option{WithRequestTimeout(time.Second)}, msg: []string{"the referrers of {repo}@", "did not answer within 1s", "3 attempts"},
			counts: []sigCount{referrersCalls(3), anyManifestCalls(0)}},
		{name: "referrers: slow drip", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, drip(time.Second))
		}, opts: []Option{WithRequestTimeout(time.Second)}, msg: []string{"the referrers of {repo}@", "too slowly", "1s"},
			counts: []sigCount{referrersCalls(3), anyManifestCalls(0)}},
		{name: "referrers: 503 then success", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.on(referrersAPI, status(503, distError("UNAVAILABLE", "try later")))
		}, ok: true, counts: []sigCount{referrersCalls(2), sigCalls(1), envelopeCalls(1)}},
		{name: "referrers: 429 then success", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.on(referrersAPI, status(429, distError("TOOMANYREQUESTS", "slow down"), "Retry-After: 1"))
		}, ok: true, counts: []sigCount{referrersCalls(2), sigCalls(1), envelopeCalls(1)}},
		{name: "referrers: 500 always", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, status(500, "oops", "Content-Type: text/plain"))
		}, msg: []string{"the referrers of {repo}@", "HTTP 500", "3 attempts"},
			counts: []sigCount{referrersCalls(3), anyManifestCalls(0)}},
		{name: "referrers: not an index", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, rewrite(func(_ *http.Request, _ *int, _ http.Header, _ []byte) []byte {
				return []byte(`{"name":"sdks/golang","tags":["bookworm-1.23.4"]}`)
			}))
		}, msg: []string{"the referrers of {repo}@", "not an OCI image index"},
			counts: []sigCount{referrersCalls(1), anyManifestCalls(0)}},
		// Later pages are not read (referrers.go): a Link is no request.
		{name: "referrers: Link to a next page, ignored", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, rewrite(func(r *http.Request, _ *int, h http.Header, body []byte) []byte {
				h.Set("Link", fmt.Sprintf(`<%s?n=1&last=x>; rel="next"`, r.URL.Path))
				return body
			}))
		}, ok: true, counts: []sigCount{referrersCalls(1), sigCalls(1), envelopeCalls(1)}},
		// The answer is not content-addressed either way: what it lists
		// is, and must name the subject. The body's mediaType decides.
		{name: "referrers: wrong Content-Type, an index", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, header("Content-Type", "text/html; charset=utf-8"))
		}, ok: true, counts: []sigCount{referrersCalls(1), sigCalls(1), envelopeCalls(1)}},
		{name: "referrers: wrong Content-Type, a login page", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(referrersAPI, status(200, "<html>sign in</html>", "Content-Type: text/html"))
		}, msg: []string{"the referrers of {repo}@", "not an OCI image index"},
			counts: []sigCount{referrersCalls(1), anyManifestCalls(0)}},

		// The referrers tag schema's index.
		{name: "tag schema: clean", tagSchema: true, ok: true, counts: []sigCount{referrersCalls(1), tagCalls(1), sigCalls(1), envelopeCalls(1)}},
		{name: "tag schema: endless index", tagSchema: true, setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.referrersTag, endless(ocispecs.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[`))
		}, is: []error{trust.ErrBounds}, msg: []string{"{repo}:sha256-", "larger than 262144 bytes"},
			counts: []sigCount{tagCalls(1), sigCalls(0), anyBlobCalls(0)}},
		{name: "tag schema: stalled", tagSchema: true, setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.referrersTag, stall)
		}, lim: budget, is: []error{trust.ErrBounds, context.DeadlineExceeded}, msg: []string{"bounds exceeded: the time budget of 1s ran out"},
			counts: []sigCount{tagCalls(1), sigCalls(0)}},
		// trust reads one index and never follows an entry as an index:
		// an entry naming the subject itself, or an index, is no loop.
		{name: "tag schema: lists itself and the subject", tagSchema: true, setup: func(_ *testing.T, f *sigFixture) {
			self := ocispecs.Descriptor{MediaType: ocispecs.MediaTypeImageIndex, ArtifactType: trust.ArtifactTypeSigstore, Digest: f.subject.Digest, Size: 300}
			loop := f.subject
			loop.ArtifactType = trust.ArtifactTypeSigstore
			f.proxy.always(f.referrersTag, listing(self, loop))
		}, is: []error{trust.ErrOtherDigest}, msg: []string{"1 signature found", "not a referrer of the digest"},
			counts: []sigCount{tagCalls(1), anyManifestCalls(2), anyBlobCalls(0)}},

		// The signature's manifest.
		{name: "signature manifest: declared huge", setup: func(_ *testing.T, f *sigFixture) {
			big := f.sig
			big.Size = 1 << 30
			f.proxy.always(referrersAPI, listing(big))
		}, is: []error{trust.ErrBounds}, msg: []string{"signature manifest {sig} is 1073741824 bytes, more than 262144"},
			counts: []sigCount{sigCalls(0), anyBlobCalls(0)}},
		{name: "signature manifest: endless, declared small", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.sigManifest, endless(ocispecs.MediaTypeImageManifest, `{"schemaVersion":2,`))
		}, is: []error{trust.ErrBounds}, msg: []string{"{repo}@{sig}", "larger than {sigsize} bytes"},
			counts: []sigCount{sigCalls(1), anyBlobCalls(0)}},
		{name: "signature manifest: another subject", setup: func(t *testing.T, f *sigFixture) {
			other := f.subject
			other.Digest = digest.FromString("another SDK")
			d := f.pushManifest(t, ocispecs.Manifest{Layers: []ocispecs.Descriptor{f.envelope}, Subject: &other})
			f.proxy.always(referrersAPI, listing(d))
		}, is: []error{trust.ErrOtherDigest}, msg: []string{"1 signature found, it is not over this digest", "its subject is not {subject}"},
			counts: []sigCount{anyBlobCalls(0)}},
		{name: "signature manifest: 1,000 layers", setup: func(t *testing.T, f *sigFixture) {
			layers := make([]ocispecs.Descriptor, 1000)
			for i := range layers {
				layers[i] = f.envelope
			}
			d := f.pushManifest(t, ocispecs.Manifest{Layers: layers, Subject: &f.subject})
			f.proxy.always(referrersAPI, listing(d))
		}, is: []error{trust.ErrTampered}, msg: []string{"1000 layers, want 1"},
			counts: []sigCount{anyBlobCalls(0)}},

		// The envelope.
		{name: "envelope: declared huge", setup: func(t *testing.T, f *sigFixture) {
			big := f.envelope
			big.Size = 1 << 30
			d := f.pushManifest(t, ocispecs.Manifest{Layers: []ocispecs.Descriptor{big}, Subject: &f.subject})
			f.proxy.always(referrersAPI, listing(d))
		}, is: []error{trust.ErrBounds}, msg: []string{"envelope {envelope} is 1073741824 bytes, more than 1048576"},
			counts: []sigCount{anyBlobCalls(0)}},
		{name: "envelope: endless, declared small", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.envelopeBlob, endless("application/octet-stream", ""))
		}, is: []error{trust.ErrBounds}, msg: []string{"{repo}@{envelope}", "larger than {envsize} bytes"},
			counts: []sigCount{envelopeCalls(1)}},
		{name: "envelope: one byte more than declared", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.envelopeBlob, rewrite(tamper))
		}, is: []error{trust.ErrBounds}, msg: []string{"{repo}@{envelope}", "larger than {envsize} bytes"},
			counts: []sigCount{envelopeCalls(1)}},
		{name: "envelope: stalled", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.envelopeBlob, stall)
		}, lim: budget, is: []error{trust.ErrBounds, context.DeadlineExceeded}, msg: []string{"bounds exceeded: the time budget of 1s ran out"},
			counts: []sigCount{envelopeCalls(1)}},
		{name: "envelope: digest mismatch", setup: func(_ *testing.T, f *sigFixture) {
			f.proxy.always(f.envelopeBlob, rewrite(func(_ *http.Request, _ *int, _ http.Header, body []byte) []byte {
				// As long as declared: only the digest can tell.
				body = bytes.Clone(body)
				body[len(body)/2] ^= 1
				return body
			}))
		}, msg: []string{"reading Sigstore signature {sig}", "{repo}@{envelope}", "hashes to"},
			counts: []sigCount{envelopeCalls(1)}},
		// A certificate chain deeper than MaxChainDepth is refused after
		// the envelope is read, whatever the Store: trust's TestBounds,
		// "chain too deep", covers it with a real Notary Project envelope.
	}
}

// TestSignatureFaults runs each row through the registry Client as
// trust's Store, over HTTP, behind the fault proxy.
func TestSignatureFaults(t *testing.T) {
	for _, row := range sigFaultRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			f := newSigFixture(t, !row.tagSchema)
			if row.setup != nil {
				row.setup(t, f)
			}
			c := New(append(faultOptions(), row.opts...)...)
			start := time.Now()
			got, err := f.verify(context.Background(), c, row.lim)
			t.Logf("%s in %s; error: %v", row.name, time.Since(start).Round(time.Millisecond), err)
			if row.ok {
				if err != nil {
					t.Fatalf("error %v, want success", err)
				}
				if len(got.Signatures) != 1 || got.Signatures[0].Digest != f.sig.Digest {
					t.Errorf("signatures %+v, want %s", got.Signatures, f.sig.Digest)
				}
			} else {
				if err == nil {
					t.Fatalf("verified (%+v), want an error", got)
				}
				for _, is := range row.is {
					if !errors.Is(err, is) {
						t.Errorf("error is not %v", is)
					}
				}
				r := strings.NewReplacer("{repo}", f.repo, "{sig}", f.sig.Digest.String(), "{envelope}", f.envelope.Digest.String(),
					"{subject}", f.subject.Digest.String(), "{sigsize}", fmt.Sprint(f.sig.Size), "{envsize}", fmt.Sprint(f.envelope.Size))
				for _, m := range row.msg {
					if m = r.Replace(m); !strings.Contains(err.Error(), m) {
						t.Errorf("error does not say %q", m)
					}
				}
			}
			for _, n := range row.counts {
				if got := f.proxy.count(n.match(f)); got != n.want {
					t.Errorf("%d %s requests, want %d: %v", got, n.what, n.want, f.proxy.requests())
				}
			}
		})
	}
}

// TestSignatureFaultsMemory bounds the heap that an endless answer takes
// at each signature read: the fault sends up to 1 GiB, the client hangs up
// at the read's bound (4 MiB for the referrers API's answer, 256 KiB for
// the tag's index, the declared size for a signature's manifest and
// envelope), never reading more into memory first: the transport alone
// would take 8 MiB of each (20 MiB of peak heap), past every bound here.
func TestSignatureFaultsMemory(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tagSchema bool
		maxPeak   uint64 // bytes above the heap before
		fault     func(f *sigFixture)
	}{
		{"referrers API", false, 16 << 20, func(f *sigFixture) {
			f.proxy.always(referrersAPI, endless(ocispecs.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[`))
		}},
		{"referrers tag", true, 4 << 20, func(f *sigFixture) {
			f.proxy.always(f.referrersTag, endless(ocispecs.MediaTypeImageIndex, `{"schemaVersion":2,"manifests":[`))
		}},
		{"signature manifest", false, 4 << 20, func(f *sigFixture) {
			f.proxy.always(f.sigManifest, endless(ocispecs.MediaTypeImageManifest, `{"schemaVersion":2,`))
		}},
		{"envelope", false, 4 << 20, func(f *sigFixture) {
			f.proxy.always(f.envelopeBlob, endless("application/octet-stream", ""))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSigFixture(t, !tc.tagSchema)
			tc.fault(f)
			c := New(faultOptions()...)
			// At GOGC=10 the peak is close to the live heap.
			defer debug.SetGCPercent(debug.SetGCPercent(10))
			var err error
			m := heapmeasure.Run(func() any {
				_, err = f.verify(context.Background(), c, trust.Limits{})
				return nil
			})
			t.Logf("%s: peak heap +%.1f MiB, allocated %.1f MiB in total; error: %v", tc.name, heapmeasure.MiB(m.Peak), heapmeasure.MiB(m.Total), err)
			if !errors.Is(err, trust.ErrBounds) {
				t.Errorf("error %v, want trust.ErrBounds", err)
			}
			if m.Peak > tc.maxPeak {
				t.Errorf("peak heap +%.1f MiB, want at most %.0f MiB of a 1 GiB answer", heapmeasure.MiB(m.Peak), heapmeasure.MiB(tc.maxPeak))
			}
		})
	}
}

// TestSignatureOnePerDigest: eight concurrent verifications of one digest,
// through one Verifier, make one referrers request at the registry.
func TestSignatureOnePerDigest(t *testing.T) {
	f := newSigFixture(t, true)
	release := make(chan struct{})
	// Hold the first referrers answer until every caller has started, so
	// that they overlap it; cached or shared, the registry sees one.
	f.proxy.on(referrersAPI, func(p *faultProxy, w http.ResponseWriter, r *http.Request, next http.Handler) {
		select {
		case <-release:
		case <-p.done:
			return
		}
		next.ServeHTTP(w, r)
	})
	v := trust.NewVerifier(f.policy, New(faultOptions()...), trust.Limits{})
	const n = 8
	var wg, started sync.WaitGroup
	errs := make([]error, n)
	verdicts := make([]*trust.Verdict, n)
	started.Add(n)
	for i := range n {
		wg.Go(func() {
			started.Done()
			verdicts[i], errs[i] = v.Verify(context.Background(), trust.Subject{Repo: f.repo, Digest: f.subject.Digest, MediaType: f.subject.MediaType, Size: f.subject.Size})
		})
	}
	started.Wait()
	for f.proxy.count(referrersAPI) == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || verdicts[i] != verdicts[0] {
			t.Fatalf("call %d: %v, %p; want the first call's verdict %p", i, errs[i], verdicts[i], verdicts[0])
		}
	}
	if r, s, e := f.proxy.count(referrersAPI), f.proxy.count(f.sigManifest), f.proxy.count(f.envelopeBlob); r != 1 || s != 1 || e != 1 {
		t.Errorf("%d referrers, %d signature manifest and %d envelope requests, want 1 each", r, s, e)
	}
}
