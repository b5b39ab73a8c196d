package heapmeasure

import "testing"

var sink []byte

// Run sees a result that stays (retained) and garbage that does not (total,
// not retained): 32 MiB kept, 64 MiB more allocated and dropped.
func TestRun(t *testing.T) {
	f := Run(func() any {
		keep := make([]byte, 32<<20)
		for range 4 {
			sink = make([]byte, 16<<20)
		}
		sink = nil
		return keep
	})
	if f.Retained < 32<<20 || f.Retained > 40<<20 {
		t.Errorf("retained %.1f MiB, want about 32", MiB(f.Retained))
	}
	if f.Total < 96<<20 {
		t.Errorf("allocated %.1f MiB, want at least 96", MiB(f.Total))
	}
	if f.Peak < f.Retained && f.Peak != 0 {
		t.Logf("peak %.1f MiB sampled below retained: sampling missed it", MiB(f.Peak))
	}
}
