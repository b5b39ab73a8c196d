package llb

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

var (
	amd64 = ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	res   = resolver.Resolution{
		Ref: "golang@1.23", Platform: "golang", Flavor: "bookworm", Version: "1.23.4",
		Repository: "127.0.0.1:5000/sdks/golang", Tag: "bookworm-1.23.4",
		Digest: digest.FromString("manifest"),
	}
)

// ops marshals st and returns its ops by kind, the way the daemon sees them.
func ops(t *testing.T, st llb.State) (sources []*pb.SourceOp, files []*pb.FileOp, names []string) {
	t.Helper()
	def, err := st.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		switch o := op.Op.(type) {
		case *pb.Op_Source:
			sources = append(sources, o.Source)
			if op.Platform == nil || op.Platform.Architecture != "amd64" {
				t.Errorf("source %s has platform %v, want linux/amd64", o.Source.Identifier, op.Platform)
			}
		case *pb.Op_File:
			files = append(files, o.File)
		}
	}
	for _, m := range def.Metadata {
		if n := m.Description["llb.customname"]; n != "" {
			names = append(names, n)
		}
	}
	return sources, files, names
}

func TestLayerIsPinnedByDigest(t *testing.T) {
	sources, files, names := ops(t, Layer(res, amd64))
	if len(sources) != 1 || len(files) != 0 {
		t.Fatalf("got %d sources and %d file ops, want one image source", len(sources), len(files))
	}
	want := "docker-image://127.0.0.1:5000/sdks/golang@" + res.Digest.String()
	if sources[0].Identifier != want {
		t.Errorf("identifier = %q, want %q", sources[0].Identifier, want)
	}
	if len(names) != 1 || !strings.Contains(names[0], "golang 1.23.4 (bookworm)") {
		t.Errorf("vertex names = %q", names)
	}
}

func TestTreeUnpacksWhateverTheLayout(t *testing.T) {
	sources, files, _ := ops(t, Tree(res, amd64))
	if len(sources) != 1 || !strings.HasSuffix(sources[0].Identifier, "@"+res.Digest.String()) {
		t.Fatalf("sources = %v, want the one pinned image", sources)
	}
	if len(files) != 1 || len(files[0].Actions) != 1 {
		t.Fatalf("want one file op with one action, got %v", files)
	}
	cp := files[0].Actions[0].GetCopy()
	if cp == nil || cp.Src != "/*" || cp.Dest != "/" {
		t.Fatalf("action = %v, want a copy of /* to /", files[0].Actions[0])
	}
	if !cp.AttemptUnpackDockerCompatibility || !cp.AllowWildcard || !cp.AllowEmptyWildcard {
		t.Errorf("unpack=%v wildcard=%v empty=%v, want all true",
			cp.AttemptUnpackDockerCompatibility, cp.AllowWildcard, cp.AllowEmptyWildcard)
	}
}

func TestAnnounceNamesTheResolution(t *testing.T) {
	_, files, names := ops(t, Announce(res))
	if len(files) != 1 {
		t.Fatalf("got %d file ops, want 1", len(files))
	}
	want := "[sdk] golang@1.23 -> 1.23.4 (bookworm) 127.0.0.1:5000/sdks/golang@" + res.Digest.String()
	if len(names) != 1 || names[0] != want {
		t.Errorf("names = %q, want %q", names, want)
	}
	// Two resolutions must be two vertices, or progress shows one name for both.
	other := res
	other.Version, other.Ref = "1.22.10", "golang@1.22"
	a, _ := Announce(res).Marshal(context.Background())
	b, _ := Announce(other).Marshal(context.Background())
	if ha, hb := a.Def[len(a.Def)-2], b.Def[len(b.Def)-2]; string(ha) == string(hb) {
		t.Error("two resolutions announce through the same op")
	}
}

// A verified SDK's progress line ends with who signed it; one without a
// signer is unchanged.
func TestSummaryNamesTheSigner(t *testing.T) {
	signed := res
	signed.SignedBy = "signed by key sha256:ab, policy acme"
	want := "[sdk] golang@1.23 -> 1.23.4 (bookworm) 127.0.0.1:5000/sdks/golang@" + res.Digest.String() + " (signed by key sha256:ab, policy acme)"
	if got := Summary(signed); got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	if got := Summary(res); strings.Contains(got, "signed") {
		t.Errorf("Summary of an unverified SDK = %q", got)
	}
}
