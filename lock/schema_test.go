package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	digest "github.com/opencontainers/go-digest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaPath is the published JSON Schema of the lockfile.
const schemaPath = "../docs/sdk.lock.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	dt, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(dt))
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertVocabs()
	if err := c.AddResource("sdk.lock.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sdk.lock.schema.json")
	if err != nil {
		t.Fatalf("%s does not compile: %v", schemaPath, err)
	}
	return sch
}

func validate(sch *jsonschema.Schema, dt []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(dt))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestSchemaDeclaresDraft2020(t *testing.T) {
	dt, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dt, []byte(`"$schema": "https://json-schema.org/draft/2020-12/schema"`)) {
		t.Errorf("%s does not declare draft 2020-12", schemaPath)
	}
}

// What Marshal writes is valid.
func TestSchemaAcceptsMarshal(t *testing.T) {
	sch := compileSchema(t)
	full := sample()
	full.SDKs = append(full.SDKs, Entry{
		Key:     Key{Ref: "mcr.microsoft.com/oryx/python-sdk@file:.python-version", Flavor: "bookworm", Source: "mcr.microsoft.com/oryx/{platform}-sdk:{flavor}-{version}", Constraint: "~3.11"},
		Version: "3.11.9", Repository: "mcr.microsoft.com/oryx/python-sdk", Tag: "bookworm-3.11.9",
		Digest: dg("0"),
		Platforms: map[string]digest.Digest{
			"linux/arm/v7":                   dg("1"),
			"linux/arm64/v9":                 dg("2"),
			"linux/386":                      dg("3"),
			"linux/ppc64le":                  dg("4"),
			"windows(10.0.17763.1234)/amd64": dg("f"),
		},
		Signatures: []Signature{
			{Kind: "sigstore", Policy: "acme", Digest: dg("e"), Signer: "key sha256:abcd"},
			{Kind: "notation", Policy: "mcr-sdks", Digest: dg("d"), Signer: "CN=Microsoft SCD Products RSA Signing,O=Microsoft Corporation,C=US"},
		},
	})
	for name, f := range map[string]*File{"sample": sample(), "every platform form": full, "empty": {}} {
		dt := f.Marshal()
		if _, err := Parse(dt); err != nil {
			t.Fatalf("%s: Parse(Marshal): %v", name, err)
		}
		if err := validate(sch, dt); err != nil {
			t.Errorf("%s: Marshal output fails the schema:\n%s\n%v", name, dt, err)
		}
	}
}

// What Parse rejects, the schema rejects too (except what JSON Schema
// cannot say: two entries with the same key).
func TestSchemaRejectsInvalid(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range invalid(t) {
		switch tc.name {
		case "duplicate key", "trailing data":
			continue
		case "not JSON":
			if _, err := jsonschema.UnmarshalJSON(bytes.NewReader(tc.doc)); err == nil {
				t.Errorf("%s: parsed", tc.name)
			}
			continue
		}
		if err := validate(sch, tc.doc); err == nil {
			t.Errorf("%s: the schema accepts:\n%s", tc.name, tc.doc)
		}
	}
	// And what only the schema is strict about.
	for name, doc := range map[string][]byte{
		"sdks missing":     []byte(`{"version": 1}`),
		"sdks null":        []byte(`{"version": 1, "sdks": null}`),
		"field case":       bytes.Replace([]byte(sampleJSON), []byte(`"ref"`), []byte(`"Ref"`), 1),
		"tag with colon":   mutate(t, func(_, e map[string]any) { e["tag"] = "bookworm:1.23.4" }),
		"constraint empty": mutate(t, func(_, e map[string]any) { e["constraint"] = "" }),
		"platform upper": mutate(t, func(_, e map[string]any) {
			e["platforms"] = map[string]any{"Linux/AMD64": string(dg("b"))}
		}),
	} {
		if err := validate(sch, doc); err == nil {
			t.Errorf("%s: the schema accepts:\n%s", name, doc)
		}
	}
}

// Parse and the schema agree on which platform keys are written as
// PlatformKey writes them.
func TestSchemaPlatforms(t *testing.T) {
	sch := compileSchema(t)
	for _, p := range []string{
		"linux/amd64", "linux/arm64", "linux/arm64/v9", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5", "linux/386",
		"linux/s390x", "linux/ppc64le", "linux/riscv64", "linux/mips64le", "linux/loong64", "linux/amd64/v3",
		"windows(10.0.17763.1234)/amd64", "darwin/arm64", "freebsd/amd64",
		// aliases and other spellings
		"linux/aarch64", "linux/arm64/v8", "linux/arm64/8", "linux/arm", "linux/arm/7", "linux/armhf", "linux/armel",
		"linux/x86_64", "linux/i386", "linux/amd64/v1", "macos/arm64", "Linux/amd64", "linux/AMD64", "linux", "amd64",
		"linux/amd64/v2/x", "linux/", "/amd64", "",
	} {
		e := entry("golang@1.23", "bookworm", "1.23.4", dg("a"), map[string]digest.Digest{p: dg("b")})
		dt := []byte(fmt.Sprintf(`{"version": 1, "sdks": [%s]}`, must(json.Marshal(e))))
		_, perr := Parse(dt)
		serr := validate(sch, dt)
		if (perr == nil) != (serr == nil) {
			t.Errorf("platform %q: Parse error %v, schema error %v", p, perr, serr)
		}
	}
}

func must(dt []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return dt
}
