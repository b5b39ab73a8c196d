package version

import "testing"

func TestString(t *testing.T) {
	defer func(v, r string) { Version, Revision = v, r }(Version, Revision)
	if Version != "dev" || Revision != "" {
		t.Fatalf("defaults: Version=%q Revision=%q, want \"dev\" and \"\"", Version, Revision)
	}
	if got, want := String(), "sdkfront dev"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	Version, Revision = "v0.1.0-3-g4386c51-dirty", "4386c51d0c1a2b3c4d5e6f708192a3b4c5d6e7f8"
	if got, want := String(), "sdkfront v0.1.0-3-g4386c51-dirty (4386c51d0c1a2b3c4d5e6f708192a3b4c5d6e7f8)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
