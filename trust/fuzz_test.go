package trust

import "testing"

func FuzzParseSigstoreDocument(f *testing.F) {
	f.Add([]byte(keyPolicy))
	f.Add([]byte(`{"version": "1", "policies": [{"name": "a", "registryScopes": ["*"], "keyless": {"issuerRegExp": "(a|b)*", "subject": "s"}, "trustedRoot": "r.json"}]}`))
	f.Add([]byte(`{"version": "1", "policies": [{"name": "s", "registryScopes": ["r.example/a"], "level": "skip"}]}`))
	f.Fuzz(func(t *testing.T, dt []byte) {
		doc, err := ParseSigstoreDocument(dt)
		if err != nil {
			return
		}
		// What parses is valid, and every policy it holds can be
		// applied: a scope names one policy, a key or identity is named.
		if err := doc.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		for _, p := range doc.Policies {
			if p.Level != Skip && (p.PublicKey == "") == (p.Keyless == nil) {
				t.Fatalf("policy %q names %q and %v", p.Name, p.PublicKey, p.Keyless)
			}
			for _, s := range p.RegistryScopes {
				if i, ok := doc.applicable(s); !ok || doc.Policies[i].Name != p.Name && s != "*" {
					t.Fatalf("scope %q applies %v", s, ok)
				}
			}
		}
	})
}
