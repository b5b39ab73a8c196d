package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// stream builds a test2json stream from (action, test, output) triples.
type stream struct{ b bytes.Buffer }

func (s *stream) ev(action, test, output string, elapsed float64) *stream {
	m := map[string]any{"Action": action, "Package": "dockerfile"}
	if test != "" {
		m["Test"] = test
	}
	if output != "" {
		m["Output"] = output
	}
	if action == "pass" || action == "fail" || action == "skip" {
		m["Elapsed"] = elapsed
	}
	raw, _ := json.Marshal(m)
	s.b.Write(raw)
	s.b.WriteByte('\n')
	return s
}

const gw = "/worker=oci/frontend=gateway"

func sampleStream() *stream {
	s := &stream{}
	s.ev("start", "", "", 0)
	s.ev("run", "TestIntegration", "", 0)
	// a pass
	s.ev("run", "TestIntegration/TestCopyChown"+gw, "", 0)
	s.ev("output", "TestIntegration/TestCopyChown"+gw, "=== RUN   TestIntegration/TestCopyChown/worker=oci/frontend=gateway\n", 0)
	s.ev("pass", "TestIntegration/TestCopyChown"+gw, "", 1.25)
	// a testify failure with the message on the next lines, stack frames, sandbox logs
	fail := "TestIntegration/TestLegacyKeyValueFormat" + gw
	s.ev("run", fail, "", 0)
	for _, ln := range []string{
		"    dockerfile_lint_test.go:1500: \n",
		"        \tError Trace:\t/src/frontend/dockerfile/dockerfile_lint_test.go:1500\n",
		"        \t            \t\t\t\t/src/util/testutil/integration/run.go:241\n",
		"        \tError:      \tNot equal: \n",
		"        \t            \texpected: 1\n",
		"        \t            \tactual  : 0\n",
		"        \tTest:       \tTestIntegration/TestLegacyKeyValueFormat/worker=oci/frontend=gateway\n",
		"    sandbox.go:140: stderr: /usr/bin/buildkitd --oci-worker=true\n",
		"    sandbox.go:143: > startCmd 2026-11-30 Error: something in the daemon log\n",
		"    sandbox.go:205: panic: runtime error: invalid memory address or nil pointer dereference\n",
		"    sandbox.go:205: [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0xbe5bb2]\n",
		"    sandbox.go:205: \n",
		"    sandbox.go:205: goroutine 1 [running]:\n",
		"    sandbox.go:205: panic({0x1, 0x2})\n",
		"    sandbox.go:205: \truntime/panic.go:860 +0x13a\n",
		"    sandbox.go:205: github.com/moby/buildkit/frontend/dockerfile/linter.(*Linter).WithMergedConfig(0x0, 0x27565d043720)\n",
		"    sandbox.go:205: \tgithub.com/moby/buildkit@v0.34.2/frontend/dockerfile/linter/linter.go:74 +0x32\n",
		"    sandbox.go:205: github.com/sdkfront/sdkfront/frontend.scan(0x27565d04d5c0, 0x27565ccfc6f0, 0x27565d04d5f0)\n",
		"    sandbox.go:205: \tgithub.com/sdkfront/sdkfront/frontend/scan.go:109 +0x37c\n",
		"    sandbox.go:205: main.main()\n",
		"    sandbox.go:205: \tgithub.com/sdkfront/sdkfront/cmd/frontend/main.go:18 +0x2d\n",
	} {
		s.ev("output", fail, ln, 0)
	}
	s.ev("fail", fail, "", 3.5)
	// "Received unexpected error" followed by a Go stack frame
	errT := "TestIntegration/TestErrorsSourceMap" + gw
	s.ev("output", errT, "        \tError:      \tReceived unexpected error:\n", 0)
	s.ev("output", errT, "        \t            \tfailed to solve: dockerfile parse error on line 3\n", 0)
	s.ev("output", errT, "        \t            \tgithub.com/moby/buildkit/util/stack.Enable\n", 0)
	s.ev("output", errT, "        \t            \t/src/util/stack/stack.go:12\n", 0)
	s.ev("output", errT, "        \t            \tsecond message line\n", 0)
	s.ev("fail", errT, "", 2)
	// a failure reported by an internal subtest only
	parent := "TestIntegration/TestSecretsUsedInArgOrEnv" + gw
	s.ev("run", parent, "", 0)
	s.ev("run", parent+"/secretInArg", "", 0)
	s.ev("output", parent+"/secretInArg", "        \tError:      \tShould be true\n", 0)
	s.ev("fail", parent+"/secretInArg", "", 0.5)
	s.ev("fail", parent, "", 0.9)
	// a skip after part of the test ran
	s.ev("output", "TestIntegration/TestLabels"+gw, "    dockerfile_test.go:4000: rest of test requires containerd worker\n", 0)
	s.ev("skip", "TestIntegration/TestLabels"+gw, "", 1)
	// matrix variants
	sec := "TestIntegration/TestRunSecurityInsecure" + gw + "/security.insecure=granted"
	s.ev("output", sec, "        \tError:      \tReceived unexpected error:\n", 0)
	s.ev("output", sec, "        \t            \tprocess \"/bin/sh -c [ ... ]\" did not complete successfully: exit code: 1\n", 0)
	s.ev("fail", sec, "", 0.9)
	s.ev("pass", "TestIntegration/TestRunSecurityInsecure"+gw+"/security.insecure=denied", "", 0.8)
	// started, never finished (the binary was killed)
	s.ev("run", "TestIntegration/TestCacheMountParallel"+gw, "", 0)
	s.ev("output", "TestIntegration/TestCacheMountParallel"+gw, "=== PAUSE\n", 0)
	// a containerd-worker name (not selected normally) and plain non-JSON output
	s.b.WriteString("panic: something outside any test\n")
	s.ev("fail", "TestIntegration", "", 30)
	s.ev("fail", "", "", 30)
	return s
}

func TestSplitName(t *testing.T) {
	for _, tc := range []struct {
		in      string
		key     string
		top, ok bool
	}{
		{"TestIntegration/TestFoo/worker=oci/frontend=gateway", "TestFoo", true, true},
		{"TestIntegration/TestFoo/worker=oci/frontend=builtin/security.insecure=granted", "TestFoo/security.insecure=granted", true, true},
		{"TestIntegration/TestFoo/worker=oci/frontend=gateway/network.host=denied/sub/case", "TestFoo/network.host=denied/sub/case", false, true},
		{"TestIntegration/TestFoo/worker=oci/frontend=gateway/mysub", "TestFoo/mysub", false, true},
		{"TestIntegration", "", false, false},
		{"TestIntegration/TestFoo", "", false, false},
		{"TestOther/TestFoo/worker=oci", "", false, false},
	} {
		key, top, ok := splitName(tc.in)
		if key != tc.key || top != tc.top || ok != tc.ok {
			t.Errorf("splitName(%q) = %q, %v, %v; want %q, %v, %v", tc.in, key, top, ok, tc.key, tc.top, tc.ok)
		}
	}
}

func TestParseRun(t *testing.T) {
	var log bytes.Buffer
	top, subs, err := parseRun(&sampleStream().b, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := results{
		"TestCopyChown": {Key: "TestCopyChown", Status: pass, Elapsed: 1.25},
		"TestLegacyKeyValueFormat": {Key: "TestLegacyKeyValueFormat", Status: fail, Elapsed: 3.5, Note: "dockerfile_lint_test.go:1500: Not equal: expected: 1 actual : 0 [panic: runtime error: invalid memory address or nil pointer dereference" +
			" at github.com/moby/buildkit@v0.34.2/frontend/dockerfile/linter/linter.go:74 via github.com/sdkfront/sdkfront/frontend/scan.go:109]"},
		"TestErrorsSourceMap":       {Key: "TestErrorsSourceMap", Status: fail, Elapsed: 2, Note: "Received unexpected error: failed to solve: dockerfile parse error on line 3 second message line"},
		"TestSecretsUsedInArgOrEnv": {Key: "TestSecretsUsedInArgOrEnv", Status: fail, Elapsed: 0.9, Note: "[secretInArg] Should be true"},
		"TestLabels":                {Key: "TestLabels", Status: skip, Elapsed: 1, Note: "rest of test requires containerd worker"},
		"TestRunSecurityInsecure/security.insecure=granted": {Key: "TestRunSecurityInsecure/security.insecure=granted", Status: fail, Elapsed: 0.9,
			Note: `Received unexpected error: process "/bin/sh -c [ ... ]" did not complete successfully: exit code: 1`},
		"TestRunSecurityInsecure/security.insecure=denied": {Key: "TestRunSecurityInsecure/security.insecure=denied", Status: pass, Elapsed: 0.8},
		"TestCacheMountParallel":                           {Key: "TestCacheMountParallel", Status: fail, Note: noteDidNotFinish},
	}
	if !reflect.DeepEqual(top, want) {
		for k := range want {
			if !reflect.DeepEqual(top[k], want[k]) {
				t.Errorf("%s:\n got %+v\nwant %+v", k, top[k], want[k])
			}
		}
		for k := range top {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected result %+v", top[k])
			}
		}
	}
	if got := subs["TestSecretsUsedInArgOrEnv/secretInArg"]; got.Status != fail || got.Note != "Should be true" {
		t.Errorf("subtest: %+v", got)
	}
	if len(subs) != 1 {
		t.Errorf("subtests: %v", subs)
	}
	for _, s := range []string{"=== RUN   TestIntegration/TestCopyChown", "panic: something outside any test", "sandbox.go:140"} {
		if !strings.Contains(log.String(), s) {
			t.Errorf("plain log lacks %q", s)
		}
	}
	if p, f, s := top.counts(); p != 2 || f != 5 || s != 1 {
		t.Errorf("counts = %d/%d/%d", p, f, s)
	}
}

func TestResultsRoundTrip(t *testing.T) {
	top, _, err := parseRun(&sampleStream().b, nil)
	if err != nil {
		t.Fatal(err)
	}
	addMissing(top, []string{"TestCopyChown", "TestRunSecurityInsecure", "TestNeverStarted"})
	if r := top["TestNeverStarted"]; r.Status != fail || r.Note != noteDidNotRun {
		t.Errorf("missing test: %+v", r)
	}
	var buf bytes.Buffer
	if err := writeResults(&buf, top); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(top) || lines[0] != "TestCacheMountParallel\tFAIL\t0.0\t"+noteDidNotFinish {
		t.Errorf("results.txt:\n%s", buf.String())
	}
	back, err := readResults(strings.NewReader("# comment\n\n" + buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range top {
		b := back[k]
		if b.Key != r.Key || b.Status != r.Status || b.Note != r.Note {
			t.Errorf("round trip %s: %+v != %+v", k, b, r)
		}
	}
	if _, err := readResults(strings.NewReader("TestX\tMAYBE\t1\t\n")); err == nil {
		t.Error("unknown status accepted")
	}
}

func TestCompare(t *testing.T) {
	base := results{
		"A":   {Key: "A", Status: pass},
		"B":   {Key: "B", Status: pass},
		"C":   {Key: "C", Status: fail},
		"D/x": {Key: "D/x", Status: pass},
		"E":   {Key: "E", Status: skip},
		"F":   {Key: "F", Status: pass},
		"G":   {Key: "G", Status: fail},
	}
	cand := results{
		"A":   {Key: "A", Status: pass},
		"B":   {Key: "B", Status: fail, Note: "boom"},
		"C":   {Key: "C", Status: pass},
		"D/x": {Key: "D/x", Status: skip, Note: "skipped"},
		"E":   {Key: "E", Status: fail, Note: "x"},
		"G":   {Key: "G", Status: fail, Note: "still"},
		"H":   {Key: "H", Status: pass},
	}
	got := compare(base, cand)
	want := []change{
		{Key: "B", Kind: "REGRESSION", Base: pass, Cand: fail, Note: "boom"},
		{Key: "C", Kind: "FIXED", Base: fail, Cand: pass},
		{Key: "D/x", Kind: "REGRESSION", Base: pass, Cand: skip, Note: "skipped"},
		{Key: "E", Kind: "CHANGED", Base: skip, Cand: fail, Note: "x"},
		{Key: "F", Kind: "REGRESSION", Base: pass, Cand: "-", Note: noteDidNotRun},
		{Key: "H", Kind: "CHANGED", Base: "-", Cand: pass},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("compare:\n got %+v\nwant %+v", got, want)
	}
}

func TestSubsetAndPattern(t *testing.T) {
	names, err := parseSubset(strings.NewReader("# header\nTestB\nTestA  # why\n\nTestB\n# TestExcluded\treason\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"TestA", "TestB"}) {
		t.Errorf("names = %v", names)
	}
	if _, err := parseSubset(strings.NewReader("NotATest\n")); err == nil {
		t.Error("non-test name accepted")
	}
	p := runPattern(names, "")
	if p != "^TestIntegration$/^(TestA|TestB)$/^worker=oci$/" {
		t.Errorf("pattern = %q", p)
	}
	if p := runPattern(nil, "TestCopy.*"); p != "^TestIntegration$/^(TestCopy.*)$/^worker=oci$/" {
		t.Errorf("regex pattern = %q", p)
	}
	// go test splits -run on unbracketed slashes and matches each level
	levels := strings.Split(p, "/")
	for i, name := range []string{"TestIntegration", "TestB", "worker=oci"} {
		if !regexp.MustCompile(levels[i]).MatchString(name) {
			t.Errorf("level %d %q does not match %q", i, levels[i], name)
		}
	}
	if regexp.MustCompile(levels[1]).MatchString("TestBB") {
		t.Error("pattern matches a longer name")
	}
}

// The shipped subset must parse and must not select the excluded tests.
func TestShippedSubset(t *testing.T) {
	names, err := parseSubsetFile("subset.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 200 {
		t.Errorf("subset.txt has only %d tests", len(names))
	}
	for _, n := range names {
		switch n {
		case "TestAddGitSHA1", "TestReproSourceDateEpoch", "TestCgroupParent", "TestOutlineArgs":
			t.Errorf("subset.txt selects excluded test %s", n)
		}
	}
}

func TestCompareRunsOutput(t *testing.T) {
	dir := t.TempDir()
	write := func(run, content, secs string) string {
		d := filepath.Join(dir, run)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "results.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if secs != "" {
			if err := os.WriteFile(filepath.Join(d, "duration_s"), []byte(secs), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	stock := write("stock", "TestA\tPASS\t1.0\t\nTestB\tPASS\t1.0\t\nTestC\tFAIL\t1.0\tmachine limit\nTestD\tSKIP\t0.1\tcontainerd only\n", "200\n")
	sdk := write("sdkfront", "TestA\tPASS\t1.0\t\nTestB\tFAIL\t1.0\tError: boom\nTestC\tFAIL\t1.0\tmachine limit\nTestD\tSKIP\t0.1\tcontainerd only\n", "")

	var out bytes.Buffer
	err := compareRuns(stock, sdk, "", filepath.Join(dir, "diff.txt"), &out)
	var ee *exitError
	if !asExit(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "compat: stock 2/1/1 sdkfront 1/2/1 regressions=1" {
		t.Errorf("last line = %q\n%s", last, out.String())
	}
	if !strings.Contains(out.String(), "compat: REGRESSION TestB: FAIL: Error: boom\n") ||
		!strings.Contains(out.String(), "compat: stock    2 passed, 1 failed, 1 skipped in 3m20s\n") {
		t.Errorf("output:\n%s", out.String())
	}
	diff, _ := os.ReadFile(filepath.Join(dir, "diff.txt"))
	if string(diff) != "REGRESSION\tTestB\tPASS -> FAIL\tError: boom\n" {
		t.Errorf("diff.txt = %q", diff)
	}

	// identical runs: exit 0
	out.Reset()
	if err := compareRuns(stock, stock, "", "", &out); err != nil {
		t.Errorf("same run: %v\n%s", err, out.String())
	}
	// a baseline that passed nothing is an error, even without regressions
	broken := write("broken", "TestA\tFAIL\t0.0\t"+noteDidNotRun+"\n", "")
	out.Reset()
	err = compareRuns(broken, broken, "", "", &out)
	if !asExit(err, &ee) || ee.code != 2 || !strings.HasSuffix(out.String(), "regressions=0\n") {
		t.Errorf("broken baseline: err = %v\n%s", err, out.String())
	}
}

func TestRetry(t *testing.T) {
	dir := t.TempDir()
	write := func(run, content string) string {
		d := filepath.Join(dir, run)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "results.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stock := write("stock", "TestA\tPASS\t1\t\nTestB\tPASS\t1\t\nTestC/env=x\tPASS\t1\t\nTestC/env=y\tPASS\t1\t\nTestD\tFAIL\t1\tlimit\n")
	sdk := write("sdkfront", "TestA\tPASS\t1\t\nTestB\tFAIL\t1\ttimeout\nTestC/env=x\tFAIL\t1\tboom\nTestC/env=y\tPASS\t1\t\nTestD\tFAIL\t1\tlimit\n")
	var out bytes.Buffer
	if err := printRegressedNames(stock, sdk, &out); err != nil || out.String() != "TestB\nTestC\n" {
		t.Fatalf("names: %v %q", err, out.String())
	}
	retry := write("retry", "TestB\tPASS\t1\t\nTestC/env=x\tFAIL\t1\tboom again\nTestC/env=y\tPASS\t1\t\n")
	out.Reset()
	err := compareRuns(stock, sdk, retry, "", &out)
	var ee *exitError
	if !asExit(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	o := out.String()
	if !strings.Contains(o, "compat: flaky TestB: flaky: passed on retry; first: FAIL timeout\n") ||
		!strings.Contains(o, "compat: REGRESSION TestC/env=x: FAIL: boom\n") ||
		!strings.HasSuffix(o, "compat: stock 4/1/0 sdkfront 3/2/0 regressions=1\n") {
		t.Errorf("output:\n%s", o)
	}
}

func asExit(err error, target **exitError) bool {
	return errors.As(err, target)
}
