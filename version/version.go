// Package version holds sdkfront's version, stamped at link time:
//
//	go build -ldflags "-X github.com/sdkfront/sdkfront/version.Version=v0.1.0 \
//	    -X github.com/sdkfront/sdkfront/version.Revision=<git commit>" ./cmd/frontend
//
// `make frontend-image` and `make image` stamp both (see the Makefile); a
// plain `go build` leaves the defaults.
package version

// Version is the release as `git describe --tags --always --dirty` prints it
// ("v0.1.0", "v0.1.0-3-g1a2b3c4-dirty", or an abbreviated commit when there
// are no tags); "dev" when not stamped.
var Version = "dev"

// Revision is the full git commit the binary was built from; "" when not
// stamped.
var Revision = ""

// String is "sdkfront <Version>", plus " (<Revision>)" when the revision is
// known: "sdkfront v0.1.0 (4386c51d…)".
func String() string {
	if Revision == "" {
		return "sdkfront " + Version
	}
	return "sdkfront " + Version + " (" + Revision + ")"
}
