package signing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxEnvelope bounds what Attach reads of a signature envelope (notation's
// COSE envelopes and cosign's bundles are a few KiB).
const maxEnvelope = 4 << 20

// Attach copies the signature manifest sig to subject's repository as a
// referrer of subject (its subject field re-pointed; the signed payload still
// names the digest it was made for), with its first layer, the envelope,
// tampered with if tamper is set: one byte of the signature flipped, so the
// envelope still parses and only its cryptography fails. It returns the new
// manifest's digest; the registry indexes it as it indexes any referrer
// (the referrers API, or the sha256-<hex> tag that go-containerregistry's
// client updates where there is none).
func Attach(ctx context.Context, sig, subject name.Digest, tamper bool) (name.Digest, error) {
	fail := func(err error) (name.Digest, error) {
		return name.Digest{}, fmt.Errorf("attaching %s to %s: %w", sig, subject, err)
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	src, err := remote.Get(sig, opts...)
	if err != nil {
		return fail(err)
	}
	sub, err := remote.Head(subject, opts...)
	if err != nil {
		return fail(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src.Manifest, &m); err != nil {
		return fail(err)
	}
	m["subject"] = map[string]any{"mediaType": sub.MediaType, "digest": sub.Digest.String(), "size": sub.Size}

	dst := subject.Context()
	var blobs []map[string]any
	if c, ok := m["config"].(map[string]any); ok {
		blobs = append(blobs, c)
	}
	layers, _ := m["layers"].([]any)
	for i, l := range layers {
		d, ok := l.(map[string]any)
		if !ok {
			return fail(fmt.Errorf("layer %d is not a descriptor", i))
		}
		if i == 0 && tamper {
			if err := tamperLayer(ctx, sig.Context(), dst, d); err != nil {
				return fail(err)
			}
			continue
		}
		blobs = append(blobs, d)
	}
	for _, d := range blobs {
		if err := copyBlob(ctx, sig.Context(), dst, d); err != nil {
			return fail(err)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fail(err)
	}
	out := dst.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(raw)))
	if err := remote.Put(out, rawManifest{raw: raw, mediaType: src.MediaType}, opts...); err != nil {
		return fail(err)
	}
	return out, nil
}

// CopyImage copies the manifest src (and its blobs) to repo, by digest.
func CopyImage(ctx context.Context, src name.Digest, repo name.Repository) (name.Digest, error) {
	img, err := remote.Image(src, remote.WithContext(ctx))
	if err != nil {
		return name.Digest{}, fmt.Errorf("copying %s: %w", src, err)
	}
	dst := repo.Digest(src.DigestStr())
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return name.Digest{}, fmt.Errorf("copying %s to %s: %w", src, repo, err)
	}
	return dst, nil
}

func copyBlob(ctx context.Context, from, to name.Repository, d map[string]any) error {
	dg, _ := d["digest"].(string)
	l, err := remote.Layer(from.Digest(dg), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	return remote.WriteLayer(to, l, remote.WithContext(ctx))
}

// tamperLayer pushes a tampered copy of the blob d names to repo to and
// points d at it.
func tamperLayer(ctx context.Context, from, to name.Repository, d map[string]any) error {
	dg, _ := d["digest"].(string)
	mt, _ := d["mediaType"].(string)
	l, err := remote.Layer(from.Digest(dg), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxEnvelope))
	rc.Close()
	if err != nil {
		return err
	}
	b, err = tamperEnvelope(b)
	if err != nil {
		return fmt.Errorf("tampering with %s: %w", dg, err)
	}
	tl := static.NewLayer(b, types.MediaType(mt))
	if err := remote.WriteLayer(to, tl, remote.WithContext(ctx)); err != nil {
		return err
	}
	h, err := tl.Digest()
	if err != nil {
		return err
	}
	d["digest"], d["size"] = h.String(), len(b)
	return nil
}

// tamperEnvelope flips one bit of the signature: in a Sigstore bundle the
// last byte of the DSSE envelope's first signature; in anything else (a COSE
// envelope, whose signature is its last field) the last byte.
func tamperEnvelope(b []byte) ([]byte, error) {
	var bundle map[string]any
	if json.Unmarshal(b, &bundle) != nil {
		out := bytes.Clone(b)
		out[len(out)-1] ^= 1
		return out, nil
	}
	env, _ := bundle["dsseEnvelope"].(map[string]any)
	sigs, _ := env["signatures"].([]any)
	if len(sigs) == 0 {
		return nil, fmt.Errorf("a JSON envelope without dsseEnvelope.signatures")
	}
	s, _ := sigs[0].(map[string]any)
	raw, _ := s["sig"].(string)
	sig, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("dsseEnvelope.signatures[0].sig: not a signature")
	}
	sig[len(sig)-1] ^= 1
	s["sig"] = base64.StdEncoding.EncodeToString(sig)
	return json.Marshal(bundle)
}

// rawManifest is a manifest pushed as its bytes.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }
