package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdkfront/sdkfront/internal/badinput"
)

// TestBadInput runs the bad-input table through the real daemon: each
// input fails before any RUN, with the error and the user's line shown.
func TestBadInput(t *testing.T) {
	source := lab.registry + "/sdks/{platform}:{flavor}-{version}"
	for _, c := range badinput.Cases {
		t.Run(c.Name, func(t *testing.T) {
			text := strings.ReplaceAll(c.Text(source), "FROM busybox", "FROM "+lab.registry+"/lab/busybox")
			files := map[string]string{}
			for k, v := range c.Context {
				files[k] = v
			}
			dir := project(t, "# syntax="+lab.frontend+"\n"+text, files)
			var args []string
			for k, v := range c.Args {
				args = append(args, "--opt", "build-arg:"+k+"="+v)
			}
			r := buildctl(t, dir, args...).mustFail(t)
			want := append([]string{}, c.Want...)
			if c.Line > 0 {
				userLine := strings.Split(text, "\n")[c.Line-1]
				want = append(want, fmt.Sprintf("Dockerfile:%d\n", c.Line+1), ">>> "+userLine)
			}
			for _, w := range want {
				if !strings.Contains(r.err, w) {
					t.Errorf("output lacks %q:\n%s", w, tail(r.err, 25))
				}
			}
			if strings.Contains(r.err, "] RUN ") {
				t.Errorf("a RUN step ran before the error:\n%s", tail(r.err, 25))
			}
			if _, err := os.Stat(filepath.Join(r.outDir, "ran")); err == nil {
				t.Errorf("the build ran a RUN step")
			}
		})
	}
}
