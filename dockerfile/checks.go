package dockerfile

import (
	"fmt"

	"github.com/moby/buildkit/frontend/dockerfile/linter"

	"github.com/sdkfront/sdkfront/resolver"
)

// DocsURL is where sdkfront's documentation lives; each check links to
// its section of docs/checks.md.
const DocsURL = "https://github.com/sdkfront/sdkfront/blob/main/docs/checks.md"

// sdkfront's own checks, in BuildKit's lint format: "--call check" lists
// them with BuildKit's, builds show them as warnings, and "# check=skip=",
// "# check=error=true" and BUILDKIT_DOCKERFILE_CHECK apply to them.
var (
	RuleSDKWithoutVersion = linter.LinterRule[func(ref, platform, kind string) string]{
		Name:        "SDKWithoutVersion",
		Description: "SDK references should name a version, so that the build is reproducible",
		URL:         DocsURL + "#sdkwithoutversion",
		Format: func(ref, platform, kind string) string {
			return fmt.Sprintf("SDK %s names no version: it gets the %s version when the build runs, which changes when a new one is published; write %s@<version>", ref, kind, platform)
		},
	}
	RuleSDKNotLocked = linter.LinterRule[func(ref, lock, why string) string]{
		Name:        "SDKNotLocked",
		Description: "SDK lines should be pinned by the lockfile when there is one",
		URL:         DocsURL + "#sdknotlocked",
		Format: func(ref, lock, why string) string {
			return fmt.Sprintf("SDK %s %s, so it was resolved from the registry; run `sdkfront lock` to pin it in %s", ref, why, lock)
		},
	}
	RuleSDKFlavorFallback = linter.LinterRule[func(ref, base, detected, used string) string]{
		Name:        "SDKFlavorFallback",
		Description: "An SDK line without a flavor gets the flavor of its base image when the SDK has it",
		URL:         DocsURL + "#sdkflavorfallback",
		Format: func(ref, base, detected, used string) string {
			return fmt.Sprintf("SDK %s: the base image %s is %s, but the SDK has no %s flavor, so it gets %s; name the flavor with --flavor= (or # sdk-flavor=) to choose", ref, base, detected, detected, used)
		},
	}
	RuleSDKLayersUnchecked = linter.LinterRule[func(ref, image, why string) string]{
		Name:        "SDKLayersUnchecked",
		Description: "sdkfront checks an SDK image's layers for foreign URLs before BuildKit pulls it",
		URL:         DocsURL + "#sdklayersunchecked",
		Format: func(ref, image, why string) string {
			return fmt.Sprintf("SDK %s: sdkfront could not read the manifest of %s to check its layers for foreign URLs (%s); lock it with `sdkfront lock`, which checks them", ref, image, why)
		},
	}
	RuleSDKLockUnbound = linter.LinterRule[func(ref, version, image string) string]{
		Name:        "SDKLockUnbound",
		Description: "sdkfront checks that the image a lock entry pins is of the entry's version, by the image's version label",
		URL:         DocsURL + "#sdklockunbound",
		Format: func(ref, version, image string) string {
			return fmt.Sprintf("SDK %s is locked to %s, but the image %s has no version label (org.oryx.version or org.oryx.sdk.version), so sdkfront could not check that it is that version's; `sdkfront lock --check` checks that the entry's tag still points to it", ref, version, image)
		},
	}
	RuleSDKSignatureAudit = linter.LinterRule[func(ref, finding string) string]{
		Name:        "SDKSignatureAudit",
		Description: "An SDK's publisher signature should verify under the trust policy; audit and permissive levels report what did not",
		URL:         DocsURL + "#sdksignatureaudit",
		Format: func(ref, finding string) string {
			return fmt.Sprintf("SDK %s: %s", ref, finding)
		},
	}
	RuleSDKSignatureUnchecked = linter.LinterRule[func(ref, image string) string]{
		Name:        "SDKSignatureUnchecked",
		Description: "sdkfront verifies an SDK's publisher signatures when it reads the SDK's registry itself",
		URL:         DocsURL + "#sdksignatureunchecked",
		Format: func(ref, image string) string {
			return fmt.Sprintf("SDK %s: the signatures of %s were not verified: this sdkfront does not read registries itself (BuildKit resolves the SDKs), and the trust policy's level for it is audit", ref, image)
		},
	}
	RuleSDKDirectiveOrder = linter.LinterRule[func(sdk, buildkit string) string]{
		Name:        "SDKDirectiveOrder",
		Description: "sdk-* parser directives should come after BuildKit's syntax, escape and check directives",
		URL:         DocsURL + "#sdkdirectiveorder",
		Format: func(sdk, buildkit string) string {
			return fmt.Sprintf("the %s directive stands before the %s directive: BuildKit stops reading directives at the first one it does not know, so every frontend but sdkfront ignores %s; move %s below it", sdk, buildkit, buildkit, sdk)
		},
	}
)

// Check runs sdkfront's checks over the Dockerfile and the SDK lines of one
// scan. Per-instruction "# check=" comments apply, as to BuildKit's rules.
func (f *File) Check(lint *linter.Linter, uses []*Use) {
	if d, hidden := f.header.hidden(); hidden {
		last := f.header.theirs[len(f.header.theirs)-1]
		lint.Run(&RuleSDKDirectiveOrder, lineRange(d.Line), RuleSDKDirectiveOrder.Format(d.Key, last.Key))
	}
	for _, u := range uses {
		if u.Bad || u.VersionFile != nil {
			continue
		}
		kind := u.Ref.Constraint.Kind
		if kind != resolver.Default && kind != resolver.Latest {
			continue
		}
		l := lint.WithMergedConfigFromComments(u.Node.PrevComment)
		l.Run(&RuleSDKWithoutVersion, u.Location(), RuleSDKWithoutVersion.Format(u.RefText, refName(u.Ref), kind.String()))
	}
}

// refName is a reference without its constraint.
func refName(r resolver.Ref) string {
	if r.Repository != "" {
		return r.Repository
	}
	return r.Platform
}
