package frontend

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	pkgerrors "github.com/pkg/errors"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestNotExist: a file is missing when the error says so by type: an
// fs.ErrNotExist, or a gRPC status as BuildKit's gateway sends a missing
// file (codes.Unknown ending in ENOENT's text, however the frontend wraps
// it) or a missing context (containerd's not-found sentinel, or
// codes.NotFound). The words of any other error never count.
func TestNotExist(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"fs.ErrNotExist", fmt.Errorf("open x: %w", fs.ErrNotExist), true},
		{"gateway ENOENT", status.Error(codes.Unknown, "open /tmp/buildkit-mount/Dockerfile.sdk.lock: no such file or directory"), true},
		{"gateway ENOENT, wrapped", pkgerrors.Wrap(status.Error(codes.Unknown, "open Dockerfile.sdk.lock: no such file or directory"), "failed to read dockerfile"), true},
		{"gateway not found", status.Error(codes.Unknown, "context sdk-trust: not found"), true},
		{"NotFound code", status.Error(codes.NotFound, "no such thing"), true},
		{"gateway other error", status.Error(codes.Unknown, "open x: permission denied"), false},
		{"gateway text in the middle", status.Error(codes.Unknown, "no such file or directory: but the read failed otherwise"), false},
		{"plain text, not over gRPC", errors.New("open x: no such file or directory"), false},
		{"plain not found", errors.New("image not found"), false},
		{"other code", status.Error(codes.PermissionDenied, "open x: no such file or directory"), false},
	} {
		if got := notExist(tc.err); got != tc.want {
			t.Errorf("%s: notExist(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
