package lock

import (
	"encoding/json"
	"errors"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sdkfront/sdkfront/resolver"
)

func TestBind(t *testing.T) {
	e := entry("golang@1.23", "bookworm", "1.23.4", dg("a"), nil)
	cfg := func(labels map[string]string) []byte {
		dt, _ := json.Marshal(ocispecs.Image{Config: ocispecs.ImageConfig{Labels: labels}})
		return dt
	}
	if l, err := Bind(e.pinned(), cfg(map[string]string{"org.oryx.version": "1.23.4"})); err != nil || l != (resolver.VersionLabel{Label: "org.oryx.version", Version: "1.23.4"}) {
		t.Errorf("its own version: %+v, %v", l, err)
	}
	if l, err := Bind(e.pinned(), cfg(nil)); err != nil || l.Label != "" {
		t.Errorf("no label: %+v, %v; want the zero label, unchecked", l, err)
	}
	_, err := Bind(e.pinned(), cfg(map[string]string{"org.oryx.sdk.version": "1.22.10\nRUN x"}))
	var be *BindingError
	if !errors.As(err, &be) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("another version: %v, want a *BindingError", err)
	}
	be.Lock = "Dockerfile.sdk.lock"
	want := `golang@1.23 is locked in Dockerfile.sdk.lock to 1.23.4, but its digest ` + string(dg("a")) + ` is the image of "1.22.10\nRUN x" (label org.oryx.sdk.version); run sdkfront lock --update golang@1.23`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}
}
