package registry

import (
	"context"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestListRepositories(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	host := mustHost(t, srv.URL)
	for _, repo := range []string{"sdks/golang", "sdks/python", "other/x"} {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host+"/"+repo+":t", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	got, err := New().ListRepositories(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{host + "/other/x", host + "/sdks/golang", host + "/sdks/python"}
	if !slices.Equal(got, want) {
		t.Errorf("ListRepositories = %v, want %v", got, want)
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
