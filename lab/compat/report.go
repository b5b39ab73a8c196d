package main

// Results of BuildKit's Dockerfile integration suite, read from the
// `go tool test2json` stream of one run, and the comparison of two runs.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Test statuses, as written to results.txt.
const (
	pass = "PASS"
	fail = "FAIL"
	skip = "SKIP"
)

// Notes of tests that have no verdict of their own.
const (
	noteDidNotFinish = "did not finish (run interrupted or timed out)"
	noteDidNotRun    = "did not run"
)

// result is one test's verdict. Key is the test name without
// "TestIntegration/", "worker=…" and "frontend=…", so that runs of different
// frontends compare; other matrix values (security.insecure=…,
// network.host=…, env=…) stay, e.g. "TestRunSecurityInsecure/security.insecure=granted".
type result struct {
	Key     string
	Status  string // pass, fail or skip
	Elapsed float64
	Note    string // first error line (FAIL) or skip reason (SKIP)
}

// results maps Key to its result.
type results map[string]result

// counts returns how many results passed, failed and were skipped.
func (rs results) counts() (p, f, s int) {
	for _, r := range rs {
		switch r.Status {
		case pass:
			p++
		case fail:
			f++
		case skip:
			s++
		}
	}
	return p, f, s
}

func (rs results) keys() []string {
	ks := make([]string, 0, len(rs))
	for k := range rs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// matrixKeys are the matrix dimensions of the suite (integration.WithMatrix
// in frontend/dockerfile/dockerfile_test.go). "frontend" is dropped from keys.
var matrixKeys = map[string]bool{"frontend": true, "security.insecure": true, "network.host": true, "env": true}

// splitName turns TestIntegration/TestFoo/worker=oci/frontend=gateway[/k=v…][/sub…]
// into its key; top is false for internal t.Run subtests (key then ends in
// "/sub…"). ok is false for names outside that scheme (TestIntegration itself).
func splitName(full string) (key string, top, ok bool) {
	parts := strings.Split(full, "/")
	if len(parts) < 3 || parts[0] != "TestIntegration" || !strings.HasPrefix(parts[2], "worker=") {
		return "", false, false
	}
	kept := []string{parts[1]}
	rest := parts[3:]
	i := 0
	for ; i < len(rest); i++ {
		k, _, isKV := strings.Cut(rest[i], "=")
		if !isKV || !matrixKeys[k] {
			break
		}
		if k != "frontend" {
			kept = append(kept, rest[i])
		}
	}
	key = strings.Join(kept, "/")
	if i < len(rest) {
		return key + "/" + strings.Join(rest[i:], "/"), false, true
	}
	return key, true, true
}

// event is one line of `go tool test2json` output.
type event struct {
	Action  string
	Test    string
	Elapsed float64
	Output  string
}

var (
	// a t.Log/t.Skip line: "    file_test.go:123: message"
	locRE = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: ?(.*)$`)
	// the sandbox's own log lines, printed after a failure (sb.PrintLogs)
	sandboxRE = regexp.MustCompile(`^\s+sandbox\.go:\d+:`)
	// a Go stack frame: "github.com/x/y.Func" (the "/path/file.go:NN" lines start with "/")
	frameRE = regexp.MustCompile(`^[\w-]+(\.[\w-]+)+/\S*\.\S+$`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func oneLine(s string) string {
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	const max = 240
	if len(s) > max {
		s = s[:max-3] + "..."
	}
	return s
}

// reason extracts the first error line of a failed test (the assertion's
// file:line, testify's "Error:" and the message lines after it) or the
// reason of a skipped one. It
// returns "" when the output holds none.
func reason(status string, lines []string) string {
	switch status {
	case skip:
		msg := ""
		for _, ln := range lines {
			if m := locRE.FindStringSubmatch(strings.TrimRight(ln, "\n")); m != nil && strings.TrimSpace(m[1]) != "" {
				msg = m[1]
			}
		}
		return oneLine(msg)
	case fail:
		where := "" // the assertion's file:line, from testify's "Error Trace:"
		for i, ln := range lines {
			if _, tr, ok := strings.Cut(ln, "Error Trace:"); ok {
				if f := strings.Fields(tr); len(f) > 0 {
					where = path.Base(f[0]) + ": "
				}
				continue
			}
			if !strings.Contains(ln, "Error:") {
				continue
			}
			_, txt, _ := strings.Cut(ln, "Error:")
			parts := []string{where + strings.TrimSpace(txt)}
			// testify prints the message itself on the following line(s)
			for j := i + 1; j < len(lines) && len(parts) < 3; j++ {
				nxt := strings.TrimSpace(lines[j])
				if nxt == "" || strings.HasPrefix(nxt, "Test:") || strings.HasPrefix(nxt, "Messages:") ||
					strings.HasPrefix(nxt, "Error Trace:") || strings.HasPrefix(nxt, "sandbox.go:") {
					break
				}
				if strings.HasPrefix(nxt, "/") || strings.HasPrefix(nxt, "runtime.") || frameRE.MatchString(nxt) {
					continue // stack frames
				}
				parts = append(parts, nxt)
			}
			return oneLine(strings.Join(parts, " "))
		}
		for _, ln := range lines {
			if strings.Contains(ln, "panic:") || strings.Contains(ln, "test timed out") || strings.Contains(ln, "sandbox timeout") {
				return oneLine(ln)
			}
		}
	}
	return ""
}

// parseRun reads a test2json stream. It returns the top-level results (one
// per test and matrix value) and the internal subtests, and copies the plain
// test output to log (nil: discard).
func parseRun(r io.Reader, log io.Writer) (top, subs results, err error) {
	if log == nil {
		log = io.Discard
	}
	out := map[string][]string{} // full test name -> its output lines
	status := map[string]string{}
	elapsed := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(log, "%s\n", line)
			continue
		}
		switch ev.Action {
		case "output":
			_, _ = io.WriteString(log, ev.Output) // the log is a copy; out keeps what the report needs
			if ev.Test != "" {
				out[ev.Test] = append(out[ev.Test], ev.Output)
			}
		case "run":
			if ev.Test != "" {
				if _, ok := out[ev.Test]; !ok {
					out[ev.Test] = nil
				}
			}
		case "pass", "fail", "skip":
			if ev.Test != "" {
				status[ev.Test] = strings.ToUpper(ev.Action)
				elapsed[ev.Test] = ev.Elapsed
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}

	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	for n := range status {
		if _, ok := out[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	own := func(t string) []string {
		var ls []string
		for _, ln := range out[t] {
			if !sandboxRE.MatchString(ln) {
				ls = append(ls, ln)
			}
		}
		return ls
	}

	top, subs = results{}, results{}
	for _, t := range names {
		key, isTop, ok := splitName(t)
		if !ok {
			continue
		}
		st, finished := status[t]
		if !finished {
			st = fail // started but never finished: killed or timed out
		}
		lines := own(t)
		note := reason(st, lines)
		switch {
		case !finished:
			note = noteDidNotFinish
		case st == fail && note == "":
			// the failure was reported by an internal t.Run subtest: use the first one's reason
			for _, sub := range names {
				if strings.HasPrefix(sub, t+"/") && status[sub] == fail {
					if r := reason(fail, own(sub)); r != "" {
						note = oneLine("[" + sub[len(t)+1:] + "] " + r)
						break
					}
				}
			}
			if note == "" { // last resort: the test's own last log line
				for _, ln := range lines {
					if m := locRE.FindStringSubmatch(strings.TrimRight(ln, "\n")); m != nil && strings.TrimSpace(m[1]) != "" {
						note = oneLine(m[1])
					}
				}
			}
			if note == "" {
				note = "see test.log"
			}
		}
		if st == fail {
			// a crash of the frontend shows only as "exit code: 2" to the
			// client; its stack is in the sandbox's buildkitd log
			if p := frontendPanic(out[t]); p != "" {
				note += " [" + p + "]"
			}
		}
		res := result{Key: key, Status: st, Elapsed: elapsed[t], Note: note}
		if isTop {
			top[key] = res
		} else {
			subs[key] = res
		}
	}
	return top, subs, nil
}

var (
	sandboxPrefixRE = regexp.MustCompile(`^\s+sandbox\.go:\d+: ?`)
	frameFileRE     = regexp.MustCompile(`^\t(\S+\.go:\d+)`)
)

// frontendPanic finds a Go panic in the sandbox logs that the suite prints
// after a failure (the frontend's stderr ends up in buildkitd's log) and
// returns its message with the first frame outside the standard library and
// the first frame of the panicking program's own main module (a -trimpath
// path without "@version").
func frontendPanic(lines []string) string {
	var log []string
	for _, ln := range lines {
		if loc := sandboxPrefixRE.FindStringIndex(ln); loc != nil {
			log = append(log, strings.TrimRight(ln[loc[1]:], "\n"))
		}
	}
	for i, ln := range log {
		msg, ok := strings.CutPrefix(ln, "panic: ")
		if !ok {
			continue
		}
		var first, own string
		for _, f := range log[i+1 : min(len(log), i+80)] {
			m := frameFileRE.FindStringSubmatch(f)
			if m == nil {
				continue
			}
			file := m[1]
			if elem, _, _ := strings.Cut(file, "/"); !strings.Contains(elem, ".") {
				continue // the standard library (runtime/panic.go, …)
			}
			if first == "" {
				first = file
			}
			if !strings.Contains(file, "@") {
				own = file
				break
			}
		}
		p := "panic: " + oneLine(msg)
		if first != "" {
			p += " at " + first
		}
		if own != "" && own != first {
			p += " via " + own
		}
		return p
	}
	return ""
}

// addMissing records every expected test name that has no result at all as
// failed ("did not run"): the run died before starting it. A name matches
// its own key and its matrix variants (Name/security.insecure=…).
func addMissing(rs results, expected []string) {
	have := map[string]bool{}
	for k := range rs {
		name, _, _ := strings.Cut(k, "/")
		have[name] = true
	}
	for _, n := range expected {
		if !have[n] {
			rs[n] = result{Key: n, Status: fail, Note: noteDidNotRun}
		}
	}
}

// writeResults writes rs as KEY<TAB>STATUS<TAB>SECONDS<TAB>NOTE lines, sorted.
func writeResults(w io.Writer, rs results) error {
	bw := bufio.NewWriter(w)
	for _, k := range rs.keys() {
		r := rs[k]
		fmt.Fprintf(bw, "%s\t%s\t%.1f\t%s\n", r.Key, r.Status, r.Elapsed, r.Note)
	}
	return bw.Flush()
}

// readResults reads what writeResults wrote ('#' lines and blank lines are skipped).
func readResults(r io.Reader) (results, error) {
	rs := results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		ln := sc.Text()
		if strings.TrimSpace(ln) == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		f := strings.SplitN(ln, "\t", 4)
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want KEY<TAB>STATUS[<TAB>SECONDS<TAB>NOTE], got %q", n, ln)
		}
		res := result{Key: f[0], Status: f[1]}
		switch res.Status {
		case pass, fail, skip:
		default:
			return nil, fmt.Errorf("line %d: unknown status %q", n, res.Status)
		}
		if len(f) > 2 {
			res.Elapsed, _ = strconv.ParseFloat(f[2], 64)
		}
		if len(f) > 3 {
			res.Note = f[3]
		}
		rs[res.Key] = res
	}
	return rs, sc.Err()
}

func readResultsFile(path string) (results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := readResults(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}

// change is one test whose verdict differs between the baseline (stock) and
// the candidate (sdkfront).
type change struct {
	Key        string
	Kind       string // "REGRESSION" (passed in base, not in cand), "FIXED" (failed in base, passes in cand), "CHANGED"
	Base, Cand string // statuses; "-" when absent
	Note       string // the candidate's note
}

// compare lists the changes from base to cand. A test that passed in base
// and did not pass in cand (failed, skipped, or is missing) is a regression.
func compare(base, cand results) []change {
	keys := map[string]bool{}
	for k := range base {
		keys[k] = true
	}
	for k := range cand {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var cs []change
	for _, k := range sorted {
		b, inBase := base[k]
		c, inCand := cand[k]
		bs, cst := "-", "-"
		if inBase {
			bs = b.Status
		}
		if inCand {
			cst = c.Status
		}
		if bs == cst {
			continue
		}
		ch := change{Key: k, Base: bs, Cand: cst, Note: c.Note}
		switch {
		case bs == pass:
			ch.Kind = "REGRESSION"
			if !inCand {
				ch.Note = noteDidNotRun
			}
		case bs == fail && cst == pass:
			ch.Kind = "FIXED"
		default:
			ch.Kind = "CHANGED"
		}
		cs = append(cs, ch)
	}
	return cs
}

// mergeRetry returns cand with the verdicts of a retry run for the tests
// that passed in base but not in cand: a test that passes on retry counts as
// passed (its note says it was flaky), and its key is listed in flaky.
func mergeRetry(base, cand, retry results) (merged results, flaky []string) {
	merged = results{}
	for k, r := range cand {
		merged[k] = r
	}
	for _, k := range base.keys() {
		if base[k].Status != pass || cand[k].Status == pass {
			continue
		}
		if r, ok := retry[k]; ok && r.Status == pass {
			r.Note = oneLine("flaky: passed on retry; first: " + cand[k].Status + " " + cand[k].Note)
			merged[k] = r
			flaky = append(flaky, k)
		}
	}
	return merged, flaky
}

// regressedNames returns the test function names (the keys' first element)
// of the regressions among cs, sorted and unique.
func regressedNames(cs []change) []string {
	seen := map[string]bool{}
	var names []string
	for _, c := range cs {
		if c.Kind != "REGRESSION" {
			continue
		}
		n, _, _ := strings.Cut(c.Key, "/")
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// parseSubset reads a subset file: one test function name per line, '#'
// starts a comment, anything after the first field is ignored.
func parseSubset(r io.Reader) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		ln, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(ln)
		if len(f) == 0 || seen[f[0]] {
			continue
		}
		if !strings.HasPrefix(f[0], "Test") {
			return nil, fmt.Errorf("subset: %q is not a test function name", f[0])
		}
		seen[f[0]] = true
		names = append(names, f[0])
	}
	sort.Strings(names)
	return names, sc.Err()
}

func parseSubsetFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSubset(f)
}

// runPattern is the -test.run pattern for the given test names (or, when
// regex is set, for that raw name regex) on the oci worker only: the suite
// also registers a containerd worker, whose tests fail without containerd.
func runPattern(names []string, regex string) string {
	sel := regex
	if sel == "" {
		sel = strings.Join(names, "|")
	}
	return "^TestIntegration$/^(" + sel + ")$/^worker=oci$/"
}
