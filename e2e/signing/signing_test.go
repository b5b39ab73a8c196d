package signing

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The registries and tools: the lab's (lab/lab.sh env), or any pair of
// loopback registries named the same way.
var (
	tagSchemaRegistry string // LAB_REGISTRY: distribution, no referrers API
	referrersRegistry string // LAB_REFERRERS_REGISTRY: lab/refregistry
	tools             Tools
)

// TestMain gates the package as e2e's is gated: it runs only with
// SDKFRONT_LAB set, and in CI a missing lab is a failure, never a skip.
func TestMain(m *testing.M) {
	if os.Getenv("SDKFRONT_LAB") == "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "e2e/signing: SDKFRONT_LAB is not set, but this is CI: run the suite with `make test-e2e`, which starts the lab")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e/signing: SKIPPED: SDKFRONT_LAB is not set; run `make test-e2e`")
		os.Exit(0)
	}
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e/signing: the lab is not usable: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func setup() error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	tagSchemaRegistry = envOr("LAB_REGISTRY", "127.0.0.1:5000")
	referrersRegistry = envOr("LAB_REFERRERS_REGISTRY", "127.0.0.1:5001")
	bin := filepath.Join(envOr("LAB_DIR", filepath.Join(root, ".lab")), "bin")
	tools = Tools{Notation: filepath.Join(bin, "notation"), Cosign: filepath.Join(bin, "cosign")}
	for _, b := range []string{tools.Notation, tools.Cosign} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (lab/lab.sh tools builds it)", err)
		}
	}
	for _, r := range []string{tagSchemaRegistry, referrersRegistry} {
		resp, err := http.Get("http://" + r + "/v2/")
		if err != nil {
			return fmt.Errorf("registry %s: %w", r, err)
		}
		resp.Body.Close()
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestSigners signs an image with notation (MCR's shape) and cosign (key,
// new bundle format, no log) in each signature store, checks where the
// registry put each signature, and that the CLIs themselves accept it and
// reject the same signatures re-pointed at another digest, tampered ones,
// and an image with none, each for its own reason.
func TestSigners(t *testing.T) {
	for _, c := range []struct {
		name, registry string
		tagSchema      bool
	}{
		{"referrers-api", referrersRegistry, false},
		{"tag-schema", tagSchemaRegistry, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			repo, err := name.NewRepository(fmt.Sprintf("%s/signing/%s-%d", c.registry, c.name, time.Now().UnixNano()))
			if err != nil {
				t.Fatal(err)
			}
			good, other, tampered, unsigned := push(t, repo), push(t, repo), push(t, repo), push(t, repo)
			f, err := New(ctx, t.TempDir(), tools, []string{repo.Name()})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			set, err := f.SignSet(ctx, good, other, tampered)
			if err != nil {
				t.Fatal(err)
			}
			checkStore(t, good, c.tagSchema, set.Notation, set.Cosign)
			if err := f.CheckMCRShape(ctx, good); err != nil {
				t.Error(err)
			}
			if _, err := f.NotationVerify(ctx, good); err != nil {
				t.Errorf("notation verify of the signed image: %v", err)
			}
			if _, err := f.CosignVerify(ctx, good); err != nil {
				t.Errorf("cosign verify of the signed image: %v", err)
			}
			wantRejected(ctx, t, f, other, "a signature over another digest",
				"content descriptor mismatch", "provided artifact digest does not match any digest in statement")
			wantRejected(ctx, t, f, tampered, "a tampered envelope",
				"signature is invalid", "could not verify envelope")
			wantRejected(ctx, t, f, unsigned, "no signature", "no signature is associated", "no signatures found")
		})
	}
}

// push pushes a small random image to repo.
func push(t *testing.T, repo name.Repository) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d := repo.Digest(h.String())
	if err := remote.Write(d, img); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkStore checks that the registry holds sigs as referrers of subject
// where the clients chose to put them: the sha256-<hex> tag's index on a
// registry without the referrers API, the API (and no such tag) on one with
// it.
func checkStore(t *testing.T, subject name.Digest, tagSchema bool, sigs ...name.Digest) {
	t.Helper()
	repo := subject.Context()
	tag := repo.Tag(strings.Replace(subject.DigestStr(), ":", "-", 1))
	api := fmt.Sprintf("http://%s/v2/%s/referrers/%s", repo.RegistryStr(), repo.RepositoryStr(), subject.DigestStr())
	resp, err := http.Get(api)
	if err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	apiErr := json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	index, tagErr := remote.Index(tag)
	if tagSchema {
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s: %s, want no referrers API on this registry", api, resp.Status)
		}
		if tagErr != nil {
			t.Fatalf("the referrers tag %s: %v", tag, tagErr)
		}
		m, err := index.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		listed.Manifests = listed.Manifests[:0]
		for _, d := range m.Manifests {
			listed.Manifests = append(listed.Manifests, struct {
				Digest string `json:"digest"`
			}{d.Digest.String()})
		}
	} else {
		if resp.StatusCode != http.StatusOK || apiErr != nil {
			t.Fatalf("%s: %s, %v; want the referrers API", api, resp.Status, apiErr)
		}
		if tagErr == nil {
			t.Errorf("the referrers tag %s exists on a registry with the referrers API: a client fell back to the tag schema", tag)
		}
	}
	have := map[string]bool{}
	for _, m := range listed.Manifests {
		have[m.Digest] = true
	}
	for _, s := range sigs {
		if !have[s.DigestStr()] {
			t.Errorf("signature %s is not listed as a referrer of %s (tag schema %v): %v", s.DigestStr(), subject, tagSchema, listed.Manifests)
		}
	}
}

// wantRejected checks that both CLIs refuse ref, which carries only bad
// signatures (why says which), each for the reason given: a part of its
// message.
func wantRejected(ctx context.Context, t *testing.T, f *Fixture, ref name.Digest, why, notationReason, cosignReason string) {
	t.Helper()
	out, err := f.NotationVerify(ctx, ref)
	if err == nil || !strings.Contains(out, notationReason) {
		t.Errorf("notation verify of %s, which carries %s: %v, want a refusal for %q:\n%s", ref, why, err, notationReason, out)
	}
	out, err = f.CosignVerify(ctx, ref)
	if err == nil || !strings.Contains(out, cosignReason) {
		t.Errorf("cosign verify of %s, which carries %s: %v, want a refusal for %q:\n%s", ref, why, err, cosignReason, out)
	}
}
