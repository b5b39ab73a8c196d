package trust

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseSigstoreDocument(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		errs      []string // each must be in the error; none: valid
	}{
		{"key", keyPolicy, nil},
		{"keyless and wildcard", `{"version": "1", "policies": [
			{"name": "a", "registryScopes": ["ghcr.io/acme/node"], "keyless": {"issuerRegExp": "https://.*", "subject": "x@example.com"}, "trustedRoot": "trusted_root.json"},
			{"name": "rest", "registryScopes": ["*"], "level": "skip"}]}`, nil},
		{"unknown field", `{"version": "1", "policies": [{"name": "a", "registryScopes": ["r.example/a"], "publicKey": "k", "publickey": "k"}]}`, []string{`unknown field "publickey"`}},
		{"trailing data", keyPolicy + `{}`, []string{"trailing data"}},
		{"every problem at once", `{"version": "2", "policies": [
			{"name": "a b", "registryScopes": ["golang", "r.example/x:1.0"], "level": "permissive"},
			{"name": "k", "registryScopes": ["*", "r.example/y"], "publicKey": "../k.pub", "keyless": {"issuer": "i", "issuerRegExp": "i", "subjectRegExp": "("}}]}`,
			[]string{`version "2", want "1"`, `policies[0]: name "a b"`, `policies[0]: scope "golang"`, `policies[0]: scope "r.example/x:1.0"`,
				`policies[0]: level "permissive", want strict, audit or skip`, `policies[1]: scope "*" must be the policy's only scope`,
				`policies[1]: names both publicKey and keyless`, `publicKey "../k.pub" is not a relative path`, `policies[1]: keyless needs a trustedRoot`,
				`policies[1].keyless: names both issuer and issuerRegExp`, `policies[1].keyless: subjectRegExp: error parsing regexp`}},
		{"neither key nor identity", `{"version": "1", "policies": [{"name": "a", "registryScopes": ["r.example/a"]}]}`, []string{"names neither publicKey nor keyless"}},
		{"skip with a key", `{"version": "1", "policies": [{"name": "a", "registryScopes": ["r.example/a"], "level": "skip", "publicKey": "k"}]}`, []string{"level skip takes no publicKey"}},
		{"scope twice", `{"version": "1", "policies": [{"name": "a", "registryScopes": ["r.example/a"], "publicKey": "k"}, {"name": "b", "registryScopes": ["r.example/a"], "publicKey": "k"}]}`, []string{`scope "r.example/a" is also policy "a"'s`}},
		{"name twice", `{"version": "1", "policies": [{"name": "a", "registryScopes": ["r.example/a"], "publicKey": "k"}, {"name": "a", "registryScopes": ["r.example/b"], "publicKey": "k"}]}`, []string{`name "a" is used twice`}},
		{"no policies", `{"version": "1", "policies": []}`, []string{"no policies"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSigstoreDocument([]byte(tc.doc))
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("valid, want errors")
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q lacks %q", err, e)
				}
			}
		})
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"empty", map[string][]byte{}, "neither notation/trustpolicy.json nor sigstore.json found"},
		{"missing key", map[string][]byte{SigstorePolicyFile: []byte(keyPolicy)}, `sigstore.json: policies[0] ("acme-key"): open keys/cosign.pub`},
		{"bad key", map[string][]byte{SigstorePolicyFile: []byte(keyPolicy), "keys/cosign.pub": []byte("nope")}, "keys/cosign.pub:"},
		{"missing trust store", map[string][]byte{"notation/trustpolicy.json": []byte(`{"version": "1.0", "trustPolicies": [{"name": "p", "registryScopes": ["*"],
			"signatureVerification": {"level": "strict"}, "trustStores": ["ca:acme"], "trustedIdentities": ["*"]}]}`)}, `notation/trustpolicy.json: policy "p": trust store ca:acme`},
		{"unknown notation field", map[string][]byte{"notation/trustpolicy.json": []byte(`{"version": "1.0", "trustPolicy": []}`)}, `notation/trustpolicy.json: json: unknown field "trustPolicy"`},
		{"invalid notation policy", map[string][]byte{"notation/trustpolicy.json": []byte(`{"version": "1.0", "trustPolicies": [{"name": "p", "registryScopes": ["*"], "signatureVerification": {"level": "lenient"}}]}`)}, `notation/trustpolicy.json: trust policy: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPolicy(fsOf(tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func fsOf(files map[string][]byte) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, dt := range files {
		fsys[name] = &fstest.MapFile{Data: dt}
	}
	return fsys
}
