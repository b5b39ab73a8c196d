package frontend

import (
	"reflect"
	"testing"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestCacheKeyCoversOpt sets each field of sourceresolver.Opt, and of the
// structs it points to, in turn: every one but irrelevantOpt's must change
// the cache key. A field that a BuildKit upgrade adds is covered, or fails
// here if it cannot be (an unmarshalable type).
func TestCacheKeyCoversOpt(t *testing.T) {
	base, err := cacheKey("busybox", sourceresolver.Opt{})
	if err != nil {
		t.Fatal(err)
	}
	for _, variant := range variants(t) {
		k, err := cacheKey("busybox", variant.opt)
		if err != nil {
			t.Fatalf("%s: %v", variant.field, err)
		}
		if irrelevantOpt[variant.field] {
			if k != base {
				t.Errorf("%s is named irrelevant but changes the key", variant.field)
			}
			continue
		}
		if k == base {
			t.Errorf("setting %s does not change the cache key: two resolutions that differ in it would share an answer", variant.field)
		}
	}
	if k, _ := cacheKey("docker.io/library/busybox:latest", sourceresolver.Opt{}); k != base {
		t.Errorf("busybox and docker.io/library/busybox:latest keyed apart: %q vs %q", k, base)
	}
	p1 := &ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	p2 := &ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	k1, _ := cacheKey("busybox", sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: p1}})
	k2, _ := cacheKey("busybox", sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: p2}})
	if k1 != k2 {
		t.Errorf("linux/arm64 and linux/arm64/v8 keyed apart")
	}
	if p1.Variant != "" {
		t.Error("cacheKey changed the caller's platform")
	}
}

type variant struct {
	field string
	opt   sourceresolver.Opt
}

// variants is one Opt per leaf field of Opt (and of the structs it points
// to), with that field alone set to a non-zero value.
func variants(t *testing.T) []variant {
	var out []variant
	optT := reflect.TypeOf(sourceresolver.Opt{})
	var leaf func(path []int, name string, typ reflect.Type)
	leaf = func(path []int, name string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			if !sf.IsExported() {
				continue
			}
			p := append(append([]int{}, path...), i)
			if sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct && sf.Type.Elem() != reflect.TypeOf(ocispecs.Platform{}) {
				leaf(p, name+sf.Name+".", sf.Type.Elem())
				continue
			}
			if sf.Type.Kind() == reflect.Struct {
				leaf(p, name+sf.Name+".", sf.Type)
				continue
			}
			opt := reflect.New(optT).Elem()
			v := opt
			for _, j := range p[:len(p)-1] {
				if f := v.Field(j); f.Kind() == reflect.Pointer {
					f.Set(reflect.New(f.Type().Elem()))
					v = f.Elem()
				} else {
					v = f
				}
			}
			nonZero(t, name+sf.Name, v.Field(p[len(p)-1]))
			out = append(out, variant{name + sf.Name, opt.Interface().(sourceresolver.Opt)})
		}
	}
	leaf(nil, "", optT)
	if len(out) < 8 {
		t.Fatalf("found only %d fields in sourceresolver.Opt", len(out))
	}
	return out
}

// nonZero sets v to a non-zero value of its type.
func nonZero(t *testing.T, name string, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		if e := s.Index(0); e.Kind() == reflect.Pointer {
			e.Set(reflect.New(e.Type().Elem()))
		} else {
			nonZero(t, name+"[0]", e)
		}
		v.Set(s)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		if v.Elem().Kind() == reflect.Struct {
			if f := v.Elem().FieldByName("OS"); f.IsValid() {
				f.SetString("linux")
			}
		}
	default:
		t.Fatalf("sourceresolver.Opt's %s has a kind (%s) this test cannot set: teach it, and cacheKey", name, v.Kind())
	}
}
