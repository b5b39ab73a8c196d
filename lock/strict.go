package lock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// encoding/json reads an object's keys loosely: a key matches a field
// whatever its case ("DIGEST" sets Digest), and of a key repeated in one
// object the last one wins. A reviewer reads the first "digest" of an
// entry while a build would use a "DIGEST" further down, so keys are
// checked before the lock is decoded: each exactly one of its object's
// field names, none twice in one object, at any depth.

// keyProblem is a key refused where it stands in the lock.
type keyProblem struct {
	line  int
	where string // "entry 2 (golang@1.23): platforms", or "" at the top
	what  string
}

func (p keyProblem) String() string {
	where := ""
	if p.where != "" {
		where = p.where + ": "
	}
	return fmt.Sprintf("line %d: %s%s", p.line, where, p.what)
}

// maxKeyProblems bounds how many refused keys one message names.
const maxKeyProblems = 10

// checkKeys reads dt as one JSON value of type File and refuses every key
// that is not exactly one of its object's field names, and every key
// repeated in an object. A document that is not JSON passes, for the
// decoder to report.
func checkKeys(dt []byte) error {
	k := &keyChecker{dt: dt, dec: json.NewDecoder(bytes.NewReader(dt))}
	k.dec.UseNumber()
	if _, err := k.value(reflect.TypeFor[File](), ""); err != nil {
		return nil // not JSON: json.Decoder says why
	}
	if len(k.problems) == 0 {
		return nil
	}
	var msgs []string
	for _, p := range k.problems {
		msgs = append(msgs, p.String())
	}
	if k.more > 0 {
		msgs = append(msgs, fmt.Sprintf("and %d more", k.more))
	}
	return invalidf("%s", strings.Join(msgs, "; "))
}

// keyChecker walks a document's tokens along the type it decodes to.
type keyChecker struct {
	dt       []byte
	dec      *json.Decoder
	problems []keyProblem // the first maxKeyProblems
	more     int          // how many more there are
	// counted is how far lines have been counted, and lines how many
	// newlines that was: the decoder only moves forward.
	counted int64
	lines   int
}

// refuse records a refused key, the decoder just past it.
func (k *keyChecker) refuse(where, format string, args ...any) {
	if len(k.problems) == maxKeyProblems {
		k.more++
		return
	}
	k.problems = append(k.problems, keyProblem{k.line(), where, fmt.Sprintf(format, args...)})
}

// line is the line of the document the decoder has read up to.
func (k *keyChecker) line() int {
	off := k.dec.InputOffset()
	k.lines += bytes.Count(k.dt[k.counted:off], []byte("\n"))
	k.counted = off
	return 1 + k.lines
}

// value reads one value that decodes to t (nil: any value), where names
// its place in messages. A scalar is returned as its token.
func (k *keyChecker) value(t reflect.Type, where string) (json.Token, error) {
	tok, err := k.dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			elem = t.Elem()
		}
		for i := 0; k.dec.More(); i++ {
			if _, err := k.value(elem, k.elemName(elem, where, i)); err != nil {
				return nil, err
			}
		}
	case '{':
		if err := k.object(t, where); err != nil {
			return nil, err
		}
	}
	_, err = k.dec.Token() // the closing delimiter
	return nil, err
}

// elemName names the i-th element of an array in messages: an entry by
// its position (its reference is added once read).
func (k *keyChecker) elemName(elem reflect.Type, where string, i int) string {
	if elem == reflect.TypeFor[Entry]() {
		return fmt.Sprintf("entry %d", i+1)
	}
	return fmt.Sprintf("%s[%d]", where, i)
}

// object reads an object's members, the opening brace read. Of a struct,
// each key must be one of its JSON field names exactly; of a map, any
// key. In either, no key may be repeated.
func (k *keyChecker) object(t reflect.Type, where string) error {
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	}
	first := len(k.problems)
	seen := map[string]bool{}
	ref := ""
	for k.dec.More() {
		tok, err := k.dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		if seen[name] {
			k.refuse(where, "duplicate key %q: encoding/json would use the last one", name)
		}
		seen[name] = true
		var vt reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Map:
			vt = t.Elem()
		case fields != nil:
			ft, known := fields[name]
			if !known {
				k.refuse(where, "%s", notAField(name, fields))
			}
			vt = ft
		}
		tok, err = k.value(vt, memberName(t, where, name))
		if err != nil {
			return err
		}
		if s, ok := tok.(string); ok && name == "ref" && ref == "" && t == reflect.TypeFor[Entry]() {
			ref = s // the entry is named by its first reference in messages
		}
	}
	if ref != "" {
		// Every problem since first is in this entry.
		for i := first; i < len(k.problems); i++ {
			p := &k.problems[i]
			p.where = where + " (" + quote(ref) + ")" + strings.TrimPrefix(p.where, where)
		}
	}
	return nil
}

// memberName names an object's member in messages: a struct's field by
// its name, a map's value by its key.
func memberName(t reflect.Type, where, name string) string {
	if where != "" {
		where += ": "
	}
	if t != nil && t.Kind() == reflect.Map {
		return fmt.Sprintf("%s%q", where, name)
	}
	return where + name
}

// notAField says that a key is none of the fields, and which one it may
// have been meant as: encoding/json would have read it as that one.
func notAField(name string, fields map[string]reflect.Type) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return fmt.Sprintf("key %q is not a lock field (did you mean %q?)", name, f)
		}
	}
	return fmt.Sprintf("key %q is not a lock field", name)
}

// jsonFields are the JSON names of a struct's fields, those of embedded
// structs included, as encoding/json reads them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
