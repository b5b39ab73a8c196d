package frontend

import (
	"slices"
	"testing"

	"github.com/moby/buildkit/solver/pb"
)

// checkCaps infers the capabilities of the copy options that BuildKit's
// FileOp.Marshal leaves undeclared (needs). These tests fail when a
// BuildKit upgrade changes what that inference rests on: a new field of a
// copy, a new kind of file action, or a daemon that starts advertising
// file.copy.modestring (then modeStringProxy is no longer needed).

// copyFields are the fields of pb.FileActionCopy, as needs treats them.
var copyFields = map[string]string{
	// As old as the file op itself (before v0.11, the oldest daemon
	// sdkfront supports): nothing to check.
	"src": "baseline", "dest": "baseline", "owner": "baseline", "mode": "baseline",
	"followSymlink": "baseline", "dirCopyContents": "baseline",
	"attemptUnpackDockerCompatibility": "baseline", "createDestPath": "baseline",
	"allowWildcard": "baseline", "allowEmptyWildcard": "baseline", "timestamp": "baseline",
	// Checked by needs.
	"includePatterns": "checked", "excludePatterns": "checked",
	"alwaysReplaceExistingDestPaths": "checked", "modeStr": "checked",
	// Left out on purpose (see needs): an older daemon only fails to
	// report a missing path, as with BuildKit's own frontend.
	"requiredPaths": "ignored",
}

func TestCapsKnowEveryCopyField(t *testing.T) {
	fields := (&pb.FileActionCopy{}).ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		name := fields.Get(i).JSONName()
		if _, ok := copyFields[name]; !ok {
			t.Errorf("pb.FileActionCopy has a field %q that frontend/caps.go does not know: find the capability a daemon needs for it (solver/pb/caps.go, the release that brought it) and add it to needs and capsSince, or to copyFields as baseline or ignored", name)
		}
	}
	if fields.Len() != len(copyFields) {
		t.Errorf("pb.FileActionCopy has %d fields, copyFields lists %d: remove the ones BuildKit dropped", fields.Len(), len(copyFields))
	}
}

func TestCapsKnowEveryFileAction(t *testing.T) {
	oneof := (&pb.FileAction{}).ProtoReflect().Descriptor().Oneofs().ByName("action")
	if oneof == nil {
		t.Fatal("pb.FileAction has no oneof action any more")
	}
	var got []string
	for i := 0; i < oneof.Fields().Len(); i++ {
		got = append(got, string(oneof.Fields().Get(i).Name()))
	}
	// copy, mkfile, mkdir and rm are baseline; symlink needs
	// file.symlink.create (checked by needs).
	want := []string{"copy", "mkfile", "mkdir", "rm", "symlink"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pb.FileAction's actions are %v, frontend/caps.go knows %v: check needs for the new one", got, want)
	}
}

func TestModeStringIsNeverAdvertised(t *testing.T) {
	for _, c := range pb.Caps.All() {
		if c.ID == string(pb.CapFileCopyModeStringFormat) {
			t.Fatalf("BuildKit now lists %s in its capabilities: check it directly instead of modeStringProxy (%s)", pb.CapFileCopyModeStringFormat, modeStringProxy)
		}
	}
}
