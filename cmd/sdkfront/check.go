package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sdkfront/sdkfront/lock"
)

// check compares the lock with the Dockerfile, without the network. A
// flavor to be detected from a registry's image is not known then: any
// entry of the line's ref fits.
func (l *locker) check() int {
	needs := l.needs(func(ua use) (string, string) {
		def := l.settings.FlavorOf(ua.u)
		switch {
		case !detectable(ua.base):
			return def, ""
		case l.flavors.local(ua.base):
			if d, err := l.flavors.codename(context.Background(), ua.base, ua.sp); err == nil && d != "" && d != def {
				return d, def
			} else if err == nil {
				return def, ""
			}
		}
		return "", def
	})
	path := l.lockPath()
	old, dt, bad, err := l.readLock()
	switch {
	case errors.As(err, new(invalidLock)):
		fmt.Fprintf(l.stderr, "%v\n", err)
		fmt.Fprintf(l.stderr, "%s is not a valid lock: fix or delete it, or replace it with: sdkfront lock --update\n", path)
		return exitInvalid
	case bad != nil:
		for _, ee := range bad.Entries {
			fmt.Fprintf(l.stderr, "%s: %v\n", path, ee)
		}
		fmt.Fprintf(l.stderr, "%s is not a valid lock: run %s, which replaces its invalid entries\n", path, l.again())
		return exitInvalid
	case err != nil:
		fmt.Fprintf(l.stderr, "sdkfront lock: %v\n", err)
		return exitError
	case old == nil && len(needs) == 0:
		fmt.Fprintf(l.stderr, "%s has no SDK lines and there is no %s: nothing to lock\n", l.o.file, path)
		return exitOK
	case old == nil:
		fmt.Fprintf(l.stderr, "%s does not exist: run %s\n", path, l.again())
		return exitOutOfDate
	}

	st := lock.Compare(old, dt, needs)
	for _, f := range st.Findings {
		var msg string
		switch {
		case f.Need == nil:
			fmt.Fprintf(l.stderr, "%s: %s (%s) is locked, but no SDK line of %s uses it\n", path, f.Entry.Ref, describe(f.Entry.Key), l.o.file)
			continue
		case f.Entry == nil:
			msg = fmt.Sprintf("%s (%s) is not locked", f.Need.Key.Ref, describe(f.Need.Key))
		default:
			msg = fmt.Sprintf("%s (%s) is locked to %s but not for %s", f.Need.Key.Ref, describe(f.Entry.Key), f.Entry.Version, strings.Join(f.Missing, ", "))
		}
		for _, line := range f.Need.Lines {
			fmt.Fprintf(l.stderr, "%s:%d: %s\n", l.o.file, line, msg)
		}
	}
	if st.Reformatted {
		fmt.Fprintf(l.stderr, "%s: not written the way sdkfront lock writes it (sorted, indented, one trailing newline)\n", path)
	}
	if !st.UpToDate() {
		fmt.Fprintf(l.stderr, "%s is out of date: run %s\n", path, l.again())
		return exitOutOfDate
	}
	fmt.Fprintf(l.stderr, "%s is up to date (%s)\n", path, plural(len(st.Kept), "SDK"))
	return exitOK
}
