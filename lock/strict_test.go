package lock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// inject is sampleJSON with text added on a line of its own after the
// first line holding after, and the line the text is on.
func inject(t *testing.T, after, text string) ([]byte, int) {
	t.Helper()
	lines := strings.Split(sampleJSON, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, after) })
	if i < 0 {
		t.Fatalf("sampleJSON has no line with %q", after)
	}
	lines = slices.Insert(lines, i+1, text)
	return []byte(strings.Join(lines, "\n")), i + 2
}

// The keys encoding/json reads loosely are refused: a case variant of a
// field, and a repeated key, at any depth, each named with its line and
// entry.
func TestParseRefusesLooseKeys(t *testing.T) {
	const other = `"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"`
	for _, tc := range []struct {
		name, after, text, want string
	}{
		{"digest in capitals", `"tag": "bookworm-1.23.4"`, `      "DIGEST": ` + other + `,`,
			`entry 1 (golang@1.23): key "DIGEST" is not a lock field (did you mean "digest"?)`},
		{"digest twice", `"digest": "sha256:aaaa`, `      "digest": ` + other + `,`,
			`entry 1 (golang@1.23): duplicate key "digest": encoding/json would use the last one`},
		{"platform twice", `"linux/amd64": "sha256:bbbb`, `        "linux/amd64": ` + other + `,`,
			`entry 1 (golang@1.23): platforms: duplicate key "linux/amd64"`},
		{"ref twice, named by the first", `"ref": "golang@1.23"`, `      "ref": "golang@1.22",`,
			`entry 1 (golang@1.23): duplicate key "ref"`},
		{"second entry", `"ref": "nodejs@>=20 <22"`, `      "Version": "20.0.0",`,
			`entry 2 (nodejs@>=20 <22): key "Version" is not a lock field (did you mean "version"?)`},
		{"top-level version twice", `"version": 2,`, `  "version": 2,`,
			`duplicate key "version"`},
		{"top-level case variant", `"version": 2,`, `  "SDKs": [],`,
			`key "SDKs" is not a lock field (did you mean "sdks"?)`},
		{"long s folds to s", `"ref": "golang@1.23"`, "      \"\u017fource\": \"x\",",
			"entry 1 (golang@1.23): key \"\u017fource\" is not a lock field (did you mean \"source\"?)"},
		{"deep in a value of the wrong type", `"ref": "golang@1.23"`, `      "constraint": {"a": 1, "a": 2},`,
			`entry 1 (golang@1.23): constraint: duplicate key "a"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, line := inject(t, tc.after, tc.text)
			_, err := Parse(doc)
			want := fmt.Sprintf("line %d: %s", line, tc.want)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Parse: %v, want an error containing %q", err, want)
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "invalid SDK lockfile: ") {
				t.Errorf("Parse: %v, want an ErrInvalid saying so", err)
			}
		})
	}
}

// Every refused key is named at once.
func TestParseNamesEveryLooseKey(t *testing.T) {
	doc, _ := inject(t, `"tag": "bookworm-1.23.4"`, `      "Tag": "x",`)
	doc = bytes.Replace(doc, []byte(`"tag": "bookworm-20.11.1",`), []byte(`"tag": "bookworm-20.11.1", "tag": "y",`), 1)
	_, err := Parse(doc)
	if err == nil || !strings.Contains(err.Error(), `entry 1 (golang@1.23): key "Tag"`) || !strings.Contains(err.Error(), `entry 2 (nodejs@>=20 <22): duplicate key "tag"`) {
		t.Errorf("Parse: %v, want both keys named", err)
	}
}

// FuzzLockDecode: a document Parse accepts holds no key encoding/json
// would read loosely (a case variant of a field, a key repeated in one
// object), and its result marshals to bytes that parse to the same lock.
func FuzzLockDecode(f *testing.F) {
	f.Add([]byte(sampleJSON))
	f.Add([]byte(`{"version": 1, "sdks": []}`))
	signed := sample()
	signed.SDKs[0].Signatures = []Signature{{Kind: "sigstore", Policy: "acme", Digest: dg("e"), Signer: "key sha256:ab"}, {Kind: "notation", Policy: "mcr", Digest: dg("d"), Signer: "CN=x,O=y"}}
	f.Add(signed.Marshal())
	for _, tc := range []struct{ after, text string }{
		{`"tag": "bookworm-1.23.4"`, `      "DIGEST": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",`},
		{`"linux/amd64": "sha256:bbbb`, `        "linux/amd64": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",`},
		{`"version": 2,`, `  "Version": 2,`},
		{`"tag": "bookworm-20.11.1"`, `      "signatures": [{"kind": "sigstore", "policy": "p", "digest": "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Signer": "s", "signer": "s"}],`},
	} {
		doc, _ := func() ([]byte, int) {
			lines := strings.Split(sampleJSON, "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, tc.after) })
			return []byte(strings.Join(slices.Insert(lines, i+1, tc.text), "\n")), 0
		}()
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, dt []byte) {
		got, err := Parse(dt)
		var bad *InvalidEntriesError
		if err != nil && !errors.As(err, &bad) {
			return
		}
		if n, ok := looseKeys(dt); !ok {
			t.Fatalf("Parse accepted a document whose keys are not exact and distinct (%s):\n%s", n, dt)
		}
		again, err := Parse(got.Marshal())
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(dt))): %v\n%s", err, got.Marshal())
		}
		if a, b := got.Sorted(), again.Sorted(); len(a) != len(b) || (len(a) > 0 && !reflect.DeepEqual(a, b)) {
			t.Fatalf("round trip changed the lock:\n%+v\n%+v", a, b)
		}
	})
}

// looseKeys checks dt's keys independently of Parse: a key repeated in an
// object is one more key token than the decoded object has members, and
// the objects of the file and its entries must hold only their fields.
func looseKeys(dt []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(dt))
	var stack []bool // per open container: is it an object
	tokens := 0
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] }
	var keyNext []bool // per open object: is the next string a key
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, true)
			keyNext = append(keyNext, true)
			continue
		case json.Delim('['):
			stack = append(stack, false)
			keyNext = append(keyNext, false)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack, keyNext = stack[:len(stack)-1], keyNext[:len(keyNext)-1]
		default:
			if expectKey() && keyNext[len(keyNext)-1] {
				tokens++
				keyNext[len(keyNext)-1] = false
				continue
			}
		}
		if expectKey() {
			keyNext[len(keyNext)-1] = true
		}
	}
	var doc any
	if err := json.Unmarshal(dt, &doc); err != nil {
		return "not JSON", false
	}
	if n := members(doc); n != tokens {
		return fmt.Sprintf("%d keys, %d distinct", tokens, n), false
	}
	top := doc.(map[string]any)
	if k, ok := onlyFields(top, "version", "sdks"); !ok {
		return k, false
	}
	sdks, _ := top["sdks"].([]any)
	for _, e := range sdks {
		if k, ok := onlyFields(e.(map[string]any), "ref", "flavor", "source", "constraint", "version", "repository", "tag", "digest", "platforms", "signatures"); !ok {
			return k, false
		}
		sigs, _ := e.(map[string]any)["signatures"].([]any)
		for _, s := range sigs {
			if k, ok := onlyFields(s.(map[string]any), "kind", "policy", "digest", "signer"); !ok {
				return k, false
			}
		}
	}
	return "", true
}

// members counts the members of every object in v.
func members(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, x := range v {
			n += members(x)
		}
	case []any:
		for _, x := range v {
			n += members(x)
		}
	}
	return n
}

func onlyFields(obj map[string]any, fields ...string) (string, bool) {
	for k := range obj {
		if !slices.Contains(fields, k) {
			return "key " + k, false
		}
	}
	return "", true
}

// A lock of MaxSize made of one repeated key: every repetition is
// counted, the first maxKeyProblems named with their lines.
func TestCheckKeysLargeLock(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"version": 1, "sdks": [{"platforms": {"p": "x"`)
	for b.Len() < MaxSize-100 {
		b.WriteString(",\n\"p\": \"x\"")
	}
	b.WriteString("}}]}")
	k := &keyChecker{dt: []byte(b.String())}
	k.dec = json.NewDecoder(bytes.NewReader(k.dt))
	if _, err := k.value(reflect.TypeFor[File](), ""); err != nil {
		t.Fatal(err)
	}
	repeats := strings.Count(b.String(), "\n")
	if len(k.problems)+k.more != repeats {
		t.Fatalf("%d problems, want %d", len(k.problems)+k.more, repeats)
	}
	for i, p := range k.problems {
		if p.line != i+2 || p.where != `entry 1: platforms` {
			t.Errorf("duplicate %d: line %d in %q, want line %d in entry 1's platforms", i+1, p.line, p.where, i+2)
		}
	}
	if _, err := Parse(k.dt); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("; and %d more", repeats-maxKeyProblems)) {
		t.Errorf("Parse: %.300v…, want %d problems named and the rest counted", err, maxKeyProblems)
	}
}
