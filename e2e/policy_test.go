package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourcePolicyDeniesSDK: an SDK is an image source like any other, so
// a client's source policy (buildctl --source-policy-file, buildx's
// policies) decides over it. A policy that denies the lab's golang SDK
// images fails both an SDK line and an sdk mount, naming the image that
// the policy denied, before any RUN that would use it; the same build
// without the policy, and the policy over a build that does not use that
// SDK, succeed, so the denial is the policy's and no other fault's.
func TestSourcePolicyDeniesSDK(t *testing.T) {
	// The policy's JSON is BuildKit's sourcepolicy/pb.Policy as buildctl
	// decodes it (encoding/json: enums are numbers): action 1 is DENY,
	// match_type 0 WILDCARD.
	denied := "docker-image://" + lab.registry + "/sdks/golang*"
	policy, err := json.Marshal(map[string]any{"rules": []any{map[string]any{
		"action":   1,
		"selector": map[string]any{"identifier": denied, "match_type": 0},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, df, want string
	}{
		{"SDK line", "FROM " + lab.registry + "/lab/busybox\nSDK golang@1.23\nRUN mkdir /out && go version > /out/v\n" + exportOut, "go1.23.4"},
		{"sdk mount", "FROM " + lab.registry + "/lab/busybox\nRUN --mount=type=sdk,ref=golang@1.23,target=/sdk mkdir /out && ls -R /sdk > /out/v\n" + exportOut, "VERSION"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := project(t, header(tc.df), map[string]string{})
			r := buildctl(t, dir, "--source-policy-file", policyFile).mustFail(t)
			// The SDK's source is its image by digest, as sdkfront pins it.
			id := "docker-image://" + lab.registry + "/sdks/golang@" + manifestDigest(t, "sdks/golang", "bookworm-1.23.4").String()
			for _, w := range []string{`source "` + id + `" denied by policy`} {
				if !strings.Contains(r.err, w) {
					t.Errorf("the denied build's output lacks %q:\n%s", w, tail(r.err, 30))
				}
			}
			if strings.Contains(r.err, "] RUN ") {
				t.Errorf("a RUN step ran with the denied SDK:\n%s", tail(r.err, 30))
			}
			if got := buildctl(t, dir).mustSucceed(t).file(t, "v"); !strings.Contains(got, tc.want) {
				t.Errorf("without the policy: /out/v = %q, want it to contain %q", got, tc.want)
			}
		})
	}

	dir := project(t, header("FROM "+lab.registry+"/lab/busybox\nRUN --mount=type=sdk,ref=python@3.11.9,target=/py mkdir /out && ls /py > /out/ls\n"+exportOut), map[string]string{})
	if got := buildctl(t, dir, "--source-policy-file", policyFile).mustSucceed(t).file(t, "ls"); got == "" {
		t.Errorf("the policy denied golang, yet python's mount is empty")
	}
}
