package lock

import (
	"bytes"
	"slices"
)

// Staleness is how a lock differs from what a Dockerfile needs, as
// sdkfront lock --check reports it.
type Staleness struct {
	// Findings are the needs the lock does not pin, in order, then the
	// entries no need uses.
	Findings []Finding
	// Kept are the entries some need uses, sorted.
	Kept []Entry
	// Reformatted says the lock holds what it should, but not in the
	// bytes Marshal writes.
	Reformatted bool
}

// Finding is one way a lock is out of date.
type Finding struct {
	// Need is a need the lock does not pin: no entry fits it (Entry is
	// nil), or Entry fits it but lacks the platforms Missing. Without a
	// Need, Entry is an entry no need uses.
	Need    *Need
	Entry   *Entry
	Missing []string
}

// Compare compares f, read as dt, with needs. A need whose flavor is not
// known is pinned by any entry of its reference, source and constraint.
func Compare(f *File, dt []byte, needs []*Need) Staleness {
	var s Staleness
	wanted := map[Key]bool{}
	for _, n := range needs {
		var fits []Entry
		for _, e := range f.SDKs {
			if n.Fits(e.Key) {
				fits = append(fits, e)
				wanted[e.Key] = true
			}
		}
		switch {
		case len(fits) == 0:
			s.Findings = append(s.Findings, Finding{Need: n})
		case !slices.ContainsFunc(fits, func(e Entry) bool { return len(n.Missing(e)) == 0 }):
			s.Findings = append(s.Findings, Finding{Need: n, Entry: &fits[0], Missing: n.Missing(fits[0])})
		}
	}
	for _, e := range f.Sorted() {
		if wanted[e.Key] {
			s.Kept = append(s.Kept, e)
			continue
		}
		s.Findings = append(s.Findings, Finding{Entry: &e})
	}
	if len(s.Findings) == 0 && !bytes.Equal((&File{SDKs: s.Kept}).Marshal(), dt) {
		s.Reformatted = true
	}
	return s
}

// UpToDate reports whether the lock needs no change.
func (s Staleness) UpToDate() bool { return len(s.Findings) == 0 && !s.Reformatted }
