package ociimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HostPlatform is linux/<host arch>: the lab's buildkitd runs on this host.
func HostPlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// CheckStatic fails unless file is a statically linked ELF executable (the
// images are FROM scratch: there is no dynamic loader in them).
func CheckStatic(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(f, hdr); err != nil || !bytes.Equal(hdr, []byte("\x7fELF")) {
		return fmt.Errorf("%s is not an ELF executable", file)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", file)
		}
	}
	return nil
}
