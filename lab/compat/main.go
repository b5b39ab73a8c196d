// Command compat is the Go half of `make compat` (lab/compat/compat.sh), which
// runs BuildKit's own Dockerfile integration suite against the stock Dockerfile
// frontend image and against sdkfront, and compares them test by test.
//
//	compat mirror  -dir DIR [-busybox /bin/busybox] [-registry-bin registry]
//	    builds the stand-in images (busybox, alpine, placeholders) and pushes them
//	    into the registry storage DIR/data that the suite's mirror registry serves
//	compat export  -o FILE.tar REF
//	    copies an image from a loopback registry into an OCI image layout tarball
//	    (the suite takes the frontend as FRONTEND_GATEWAY_ONLY=local:FILE.tar)
//	compat pattern [-subset FILE | -run REGEX]
//	    prints the -test.run pattern (oci worker only)
//	compat report  -o DIR [-subset FILE] [-name NAME] [-seconds N] TEST.json
//	    test2json stream -> DIR/results.txt, subtests.txt, test.log; prints a summary
//	compat compare [-o diff.txt] [-retry DIR] STOCK_DIR SDKFRONT_DIR
//	    prints the regressions (passed with stock, not with sdkfront; with -retry,
//	    those that pass in a retry run count as flaky instead) and, last,
//	    "compat: stock P/F/S sdkfront P/F/S regressions=N"; exit status 1 if
//	    there is any regression, 2 if the stock run is unusable as a baseline;
//	    with -names it only prints the regressed test function names
//
// See docs/lab.md ("Compatibility with BuildKit's Dockerfile suite").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "compat:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "compat: error:", err)
	os.Exit(1)
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: compat mirror|export|pattern|report|compare [flags] (see lab/compat/main.go)")
		return &exitError{code: 2}
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("compat "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	usage := func(err error) error { return &exitError{code: 2, msg: err.Error()} }

	switch cmd {
	case "mirror":
		dir := fs.String("dir", "", "registry storage to fill (DIR/data); required")
		busybox := fs.String("busybox", "/bin/busybox", "static busybox (Debian busybox-static)")
		regBin := fs.String("registry-bin", "registry", "distribution registry binary")
		if err := fs.Parse(args); err != nil {
			return usage(err)
		}
		if *dir == "" || fs.NArg() != 0 {
			return usage(fmt.Errorf("mirror: -dir is required, no arguments"))
		}
		return seedMirror(ctx, *dir, *busybox, *regBin, stderr)

	case "export":
		out := fs.String("o", "", "OCI layout tarball to write; required")
		if err := fs.Parse(args); err != nil {
			return usage(err)
		}
		if *out == "" || fs.NArg() != 1 {
			return usage(fmt.Errorf("export: want -o FILE.tar REF"))
		}
		dgst, err := exportImage(ctx, fs.Arg(0), *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s@%s\n", fs.Arg(0), dgst)
		return nil

	case "pattern":
		subset := fs.String("subset", "", "subset file (test function names)")
		regex := fs.String("run", "", "raw test name regex instead of a subset")
		if err := fs.Parse(args); err != nil {
			return usage(err)
		}
		if (*subset == "") == (*regex == "") || fs.NArg() != 0 {
			return usage(fmt.Errorf("pattern: want exactly one of -subset FILE and -run REGEX"))
		}
		var names []string
		if *subset != "" {
			var err error
			if names, err = parseSubsetFile(*subset); err != nil {
				return err
			}
			if len(names) == 0 {
				return fmt.Errorf("%s: no test names", *subset)
			}
		}
		fmt.Fprintln(stdout, runPattern(names, *regex))
		return nil

	case "report":
		out := fs.String("o", "", "result directory; required")
		subset := fs.String("subset", "", "subset file: tests of it with no result count as failed (did not run)")
		name := fs.String("name", "", "name of the run in the summary (default: the directory's name)")
		seconds := fs.Int("seconds", -1, "duration of the run, for the summary")
		if err := fs.Parse(args); err != nil {
			return usage(err)
		}
		if *out == "" || fs.NArg() != 1 {
			return usage(fmt.Errorf("report: want -o DIR TEST.json"))
		}
		if *name == "" {
			*name = filepath.Base(*out)
		}
		return report(fs.Arg(0), *out, *subset, *name, *seconds, stdout)

	case "compare":
		diff := fs.String("o", "", "also write the changes to this file")
		retry := fs.String("retry", "", "result directory of a retry run of the regressed tests (sdkfront): those that pass there count as flaky, not as regressions")
		names := fs.Bool("names", false, "only print the function names of the regressed tests, one per line")
		if err := fs.Parse(args); err != nil {
			return usage(err)
		}
		if fs.NArg() != 2 {
			return usage(fmt.Errorf("compare: want STOCK_DIR SDKFRONT_DIR"))
		}
		if *names {
			return printRegressedNames(fs.Arg(0), fs.Arg(1), stdout)
		}
		return compareRuns(fs.Arg(0), fs.Arg(1), *retry, *diff, stdout)
	}
	return usage(fmt.Errorf("unknown subcommand %q", cmd))
}

// report parses one run's test2json stream into dir.
func report(jsonFile, dir, subsetFile, name string, seconds int, stdout io.Writer) error {
	in, err := os.Open(jsonFile)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "test.log"))
	if err != nil {
		return err
	}
	top, subs, err := parseRun(in, logf)
	if cerr := logf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if subsetFile != "" {
		names, err := parseSubsetFile(subsetFile)
		if err != nil {
			return err
		}
		addMissing(top, names)
	}
	for file, rs := range map[string]results{"results.txt": top, "subtests.txt": subs} {
		if err := writeFile(filepath.Join(dir, file), func(w io.Writer) error { return writeResults(w, rs) }); err != nil {
			return err
		}
	}
	if seconds >= 0 {
		if err := os.WriteFile(filepath.Join(dir, "duration_s"), []byte(strconv.Itoa(seconds)+"\n"), 0o644); err != nil {
			return err
		}
	}
	for _, k := range top.keys() {
		if r := top[k]; r.Status == fail {
			fmt.Fprintf(stdout, "compat: %s: FAIL %s: %s\n", name, k, r.Note)
		}
	}
	p, f, s := top.counts()
	fmt.Fprintf(stdout, "compat: %s: %d passed, %d failed, %d skipped%s; %s\n", name, p, f, s, duration(seconds), filepath.Join(dir, "results.txt"))
	return nil
}

func duration(seconds int) string {
	if seconds < 0 {
		return ""
	}
	return " in " + (time.Duration(seconds) * time.Second).String()
}

func readDuration(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "duration_s"))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return -1
	}
	return n
}

func printRegressedNames(stockDir, sdkDir string, stdout io.Writer) error {
	stock, err := readResultsFile(filepath.Join(stockDir, "results.txt"))
	if err != nil {
		return err
	}
	sdk, err := readResultsFile(filepath.Join(sdkDir, "results.txt"))
	if err != nil {
		return err
	}
	for _, n := range regressedNames(compare(stock, sdk)) {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

// compareRuns compares the results in stockDir and sdkDir (and retryDir, a
// retry of sdkfront's regressions, unless "").
func compareRuns(stockDir, sdkDir, retryDir, diffFile string, stdout io.Writer) error {
	stock, err := readResultsFile(filepath.Join(stockDir, "results.txt"))
	if err != nil {
		return err
	}
	sdk, err := readResultsFile(filepath.Join(sdkDir, "results.txt"))
	if err != nil {
		return err
	}
	var flaky []string
	if retryDir != "" {
		retry, err := readResultsFile(filepath.Join(retryDir, "results.txt"))
		if err != nil {
			return err
		}
		sdk, flaky = mergeRetry(stock, sdk, retry)
	}
	changes := compare(stock, sdk)
	if diffFile != "" {
		err := writeFile(diffFile, func(w io.Writer) error {
			for _, c := range changes {
				fmt.Fprintf(w, "%s\t%s\t%s -> %s\t%s\n", c.Kind, c.Key, c.Base, c.Cand, c.Note)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}

	sp, sf, ss := stock.counts()
	cp, cf, cs := sdk.counts()
	fmt.Fprintf(stdout, "compat: stock    %d passed, %d failed, %d skipped%s\n", sp, sf, ss, duration(readDuration(stockDir)))
	fmt.Fprintf(stdout, "compat: sdkfront %d passed, %d failed, %d skipped%s\n", cp, cf, cs, duration(readDuration(sdkDir)))
	for _, k := range flaky {
		fmt.Fprintf(stdout, "compat: flaky %s: %s\n", k, sdk[k].Note)
	}
	regressions := 0
	for _, c := range changes {
		if c.Kind != "REGRESSION" {
			fmt.Fprintf(stdout, "compat: %s %s (stock %s, sdkfront %s)\n", strings.ToLower(c.Kind), c.Key, c.Base, c.Cand)
		}
	}
	for _, c := range changes {
		if c.Kind == "REGRESSION" {
			regressions++
			fmt.Fprintf(stdout, "compat: REGRESSION %s: %s: %s\n", c.Key, c.Cand, c.Note)
		}
	}

	// A baseline that passed nothing, or that did not finish, judges nothing.
	var broken string
	var unfinished []string
	for _, k := range stock.keys() {
		if n := stock[k].Note; n == noteDidNotFinish || n == noteDidNotRun {
			unfinished = append(unfinished, k)
		}
	}
	switch {
	case sp == 0:
		broken = "the stock run passed no test: the setup is broken, see its test.log"
	case len(unfinished) > 0:
		broken = fmt.Sprintf("the stock run is incomplete (%d tests did not run or finish, e.g. %s): see its test.log", len(unfinished), unfinished[0])
	}
	if broken != "" {
		fmt.Fprintln(stdout, "compat: error:", broken)
	}
	fmt.Fprintf(stdout, "compat: stock %d/%d/%d sdkfront %d/%d/%d regressions=%d\n", sp, sf, ss, cp, cf, cs, regressions)
	switch {
	case broken != "":
		return &exitError{code: 2}
	case regressions > 0:
		return &exitError{code: 1}
	}
	return nil
}

// writeFile writes path atomically through fill.
func writeFile(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
