package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentBuilds: 20 builds at once against one buildkitd, with a
// mix of SDK versions and flavors; every result holds exactly the SDK it
// asked for.
func TestConcurrentBuilds(t *testing.T) {
	type want struct{ ref, flags, platform, flavor, version string }
	mix := []want{
		{"python@3.11.9", "", "python", "bookworm", "3.11.9"},
		{"python@3.11.9", "--flavor=bullseye", "python", "bullseye", "3.11.9"},
		{"python@3.12", "", "python", "bookworm", "3.12.7"},
		{"python@3.10", "", "python", "bookworm", "3.10.149"},
		{"python@3.10.7", "", "python", "bookworm", "3.10.7"},
		{"python@~3.10.40", "", "python", "bookworm", "3.10.149"},
		{"python@default", "", "python", "bookworm", "3.12.7"},
		{"python@3.13.0rc2", "", "python", "bookworm", "3.13.0rc2"},
		{"nodejs@18", "", "nodejs", "bookworm", "18.20.4"},
		{"nodejs@20", "", "nodejs", "bookworm", "20.18.0"},
		{"nodejs@20.11.1", "", "nodejs", "bookworm", "20.11.1"},
		{"dotnet@8.0.404", "", "dotnet", "bookworm", "8.0.404_8.0.11"},
		{"dotnet@8.0.110", "", "dotnet", "bookworm", "8.0.110_8.0.10"},
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]string, n)
	start := time.Now()
	for i := range n {
		w := mix[i%len(mix)]
		df := header(fmt.Sprintf("FROM scratch\nSDK %s %s --to=/sdk\n", w.ref, w.flags))
		dir := project(t, df, map[string]string{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := buildctl(t, dir)
			if r.failed != nil {
				errs[i] = fmt.Sprintf("build %d (%s %s) failed: %v\n%s", i, w.ref, w.flags, r.failed, tail(r.err, 10))
				return
			}
			info := readOut(r, "sdk/sdk-info.txt")
			exp := fmt.Sprintf("platform=%s\nflavor=%s\nversion=%s\n", w.platform, w.flavor, w.version)
			if info != exp {
				errs[i] = fmt.Sprintf("build %d (%s %s) got\n%s\nwant\n%s", i, w.ref, w.flags, info, exp)
			}
		}()
	}
	wg.Wait()
	failed := 0
	for _, e := range errs {
		if e != "" {
			failed++
			t.Error(e)
		}
	}
	t.Logf("%d concurrent builds in %s, %d failed", n, time.Since(start).Round(10*time.Millisecond), failed)
}

func readOut(r result, name string) string {
	var b strings.Builder
	dt, err := readFile(r.outDir, name)
	if err != nil {
		return "error: " + err.Error()
	}
	b.Write(dt)
	return b.String()
}
