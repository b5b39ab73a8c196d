package dockerfile

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/pkg/errors"
)

// emit.go is the one place that writes Dockerfile text: each instruction
// or flag an SDK line becomes is built here from typed values (values.go,
// naming.go). The values were checked when they were made; they are
// checked again here, in case one reached the rewrite some other way.

// defaultPath is what PATH falls back to when the base image sets none, the
// same default BuildKit uses for RUN.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// check checks every value of b.
func (b Binding) check() error {
	if err := b.Context.check(); err != nil {
		return err
	}
	if err := checkPath(b.Dest.p); err != nil || !path.IsAbs(b.Dest.p) {
		return errors.Errorf("directory %s: not an absolute, clean path of %s", shown(b.Dest.p), pathAllowed)
	}
	for _, k := range b.Keep {
		if _, err := NewVarName(k.s); err != nil {
			return err
		}
	}
	return nil
}

// keepRef is how a kept variable is written: ${NAME}.
func keepRef(v VarName) string { return "${" + v.s + "}" }

// copyInstruction is the COPY an SDK instruction becomes:
//
//	COPY --from=<context> ["/*", "<dest>/"]
//
// with a "/${VAR}" source before the destination for each kept variable.
func copyInstruction(b Binding) (string, error) {
	if err := b.check(); err != nil {
		return "", err
	}
	srcs := []string{"/*"}
	for _, k := range b.Keep {
		srcs = append(srcs, "/"+keepRef(k))
	}
	return "COPY --from=" + b.Context.s + " " + jsonArgs(append(srcs, strings.TrimSuffix(b.Dest.p, "/")+"/")...), nil
}

// pathEnvInstruction is the ENV an SDK instruction becomes, which puts the
// SDK's bin directory first in PATH:
//
//	ENV PATH="<dest>/bin:${PATH:-<defaultPath>}"
func pathEnvInstruction(b Binding) (string, error) {
	if err := b.check(); err != nil {
		return "", err
	}
	return fmt.Sprintf(`ENV PATH="%s:${PATH:-%s}"`, path.Join(b.Dest.p, "bin"), defaultPath), nil
}

// bindMountFlag is the flag an sdk mount becomes:
//
//	--mount=type=bind,from=<context>,target=<dest>[,source=<source>]
//
// where kept variables stand for the source: source=/${A}/${B}.
func bindMountFlag(b Binding, source SubPath) (string, error) {
	if err := b.check(); err != nil {
		return "", err
	}
	flag := "--mount=type=bind,from=" + b.Context.s + ",target=" + b.Dest.p
	switch {
	case len(b.Keep) > 0:
		var refs []string
		for _, k := range b.Keep {
			refs = append(refs, keepRef(k))
		}
		flag += ",source=/" + strings.Join(refs, "/")
	case !source.IsZero():
		if err := checkPath(source.p); err != nil {
			return "", errors.Wrapf(err, "source=%s", shown(source.p))
		}
		flag += ",source=" + source.p
	}
	return flag, nil
}

// jsonArgs is the JSON array form of instruction arguments.
func jsonArgs(args ...string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(args)
	return strings.TrimSpace(b.String())
}
