package frontend

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/pkg/errors"

	"github.com/sdkfront/sdkfront/dockerfile"
	sdkllb "github.com/sdkfront/sdkfront/llb"
)

// TestNoSDKLineIsStock: a Dockerfile without SDK lines gets exactly what
// BuildKit's builder gives: the same LLB, or the same error with the same
// source maps. The first two once crashed sdkfront or failed in its scan.
func TestNoSDKLineIsStock(t *testing.T) {
	cases := []string{
		"FROM scratch\n# check=skip=LegacyKeyValueFormat\nENV testkey value\n",
		"FROM busybox\n# check=skip=SecretsUsedInArgOrEnv\nARG password=x\nRUN true\n",
		"FROM scratch\nENV foo\n",
		"FROM busybox\nARG\nRUN true\n",
		"FROM busybox\nENV V=1.2${\nRUN true\n",
		"FROM ${UNCLOSED\n",
		"FROM busybox\nRUN <<EOF\nSDK golang\nEOF\n",
		"FROM busybox\nCOPY --from=$X / /\n",
		"FROM busybox\nFOO bar\n",
	}
	for _, df := range cases {
		ours, stock := newStub(df, nil), newStub(df, nil)
		_, errA := Build(context.Background(), ours)
		_, errB := builder.Build(context.Background(), stock)
		if (errA == nil) != (errB == nil) {
			t.Errorf("%q: sdkfront error %v, stock error %v", df, errA, errB)
			continue
		}
		if errB != nil {
			if errA.Error() != errB.Error() {
				t.Errorf("%q: sdkfront says %q, stock says %q", df, errA, errB)
			}
			if a, b := len(errdefs.Sources(errA)), len(errdefs.Sources(errB)); a != b {
				t.Errorf("%q: %d source maps, stock has %d", df, a, b)
			}
			continue
		}
		if !ours.finalDef().EqualVT(stock.finalDef()) {
			t.Errorf("%q: LLB differs from the stock frontend's", df)
		}
	}
}

// panicky panics in the middle of a build.
type panicky struct{ *stubClient }

func (p panicky) ResolveImageConfig(context.Context, string, sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	panic("boom")
}

func TestPanicBecomesAnError(t *testing.T) {
	s, _ := sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\n")
	_, err := Build(context.Background(), panicky{s})
	if err == nil || !strings.Contains(err.Error(), "sdkfront") || !strings.Contains(err.Error(), "internal error: boom") {
		t.Fatalf("error = %v, want an sdkfront internal error naming the panic", err)
	}
}

const checkDockerfile = `# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}
# check=skip=JSONArgsRecommended
FROM busybox AS base
ARG GO_VERSION=1.23
ARG UNUSED=1
SDK golang@${GO_VERSION}
SDK nodejs
FROM base as final
RUN --mount=type=sdk,ref=python@${PY},target=/py --mount=type=secret,id=tok true
`

func subrequestStub(req string, opts map[string]string) *stubClient {
	s, _ := sdkStub(checkDockerfile)
	s.opts["requestid"] = req
	for k, v := range opts {
		s.opts[k] = v
	}
	return s
}

// noSDKResolved fails if a subrequest went near an SDK repository.
func noSDKResolved(t *testing.T, s *stubClient) {
	t.Helper()
	for _, r := range s.resolves {
		if strings.Contains(r, "/sdks/") {
			t.Errorf("a subrequest resolved %s", r)
		}
	}
	if len(s.evaluated) != 0 {
		t.Errorf("a subrequest announced %d resolutions", len(s.evaluated))
	}
}

// callSubrequest builds s, a subrequest, with a tag lister that fails the
// test if used, and decodes its result.json into v.
func callSubrequest(t *testing.T, s *stubClient, v any) *client.Result {
	t.Helper()
	res, err := build(context.Background(), s, failingTags{t})
	if err != nil {
		t.Fatalf("%s: %+v", s.opts["requestid"], err)
	}
	if err := json.Unmarshal(res.Metadata["result.json"], v); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCheckSubrequest(t *testing.T) {
	s := subrequestStub(lint.RequestLint, nil)
	var lr lint.LintResults
	res := callSubrequest(t, s, &lr)
	noSDKResolved(t, s)
	type w struct {
		rule string
		line int32
	}
	want := map[w]bool{
		{"SDKDirectiveOrder", 1}:     true, // sdk-source hides the check directive
		{"SDKWithoutVersion", 7}:     true,
		{"FromAsCasing", 8}:          true, // BuildKit's, on the user's line
		{"UndefinedVar", 9}:          true, // ${PY} on the mount line, kept visible to BuildKit
		{"SecretsUsedInArgOrEnv", 0}: false,
	}
	got := map[w]bool{}
	for _, x := range lr.Warnings {
		got[w{x.RuleName, x.Location.Ranges[0].Start.Line}] = true
		if x.RuleName == "SDKWithoutVersion" && (x.URL != dockerfile.RuleSDKWithoutVersion.URL || x.Description == "" || !strings.Contains(x.Detail, "SDK nodejs names no version")) {
			t.Errorf("SDKWithoutVersion warning: %+v", x)
		}
	}
	for k, present := range want {
		if got[k] != present {
			t.Errorf("warning %v present=%v, want %v (all: %v)", k, got[k], present, got)
		}
	}
	if len(lr.Sources) != 1 || string(lr.Sources[0].Data) != checkDockerfile {
		t.Errorf("sources show the rewritten Dockerfile: %q", lr.Sources)
	}
	txt := string(res.Metadata["result.txt"])
	if strings.Contains(txt, "sdkfront-") || !strings.Contains(txt, " 7 | >>> SDK nodejs") {
		t.Errorf("result.txt does not show the user's lines:\n%s", txt)
	}
	if string(res.Metadata["result.statuscode"]) != "1" {
		t.Errorf("status code %q, want 1", res.Metadata["result.statuscode"])
	}

	// # check=skip= and BUILDKIT_DOCKERFILE_CHECK apply to sdkfront's rules.
	for _, opts := range []map[string]string{
		{"build-arg:BUILDKIT_DOCKERFILE_CHECK": "skip=SDKWithoutVersion,SDKDirectiveOrder,FromAsCasing,UndefinedVar"},
		{"build-arg:BUILDKIT_DOCKERFILE_CHECK": "skip=all"},
	} {
		s := subrequestStub(lint.RequestLint, opts)
		var lr lint.LintResults
		callSubrequest(t, s, &lr)
		if len(lr.Warnings) != 0 {
			t.Errorf("%v: warnings %+v", opts, lr.Warnings)
		}
	}
}

func TestCheckReportsBadSDKLines(t *testing.T) {
	df := "FROM busybox\nARG V\nRUN true\nSDK golang@${V}\nSDK\n"
	s := newStub(df, map[string]string{"requestid": lint.RequestLint})
	var lr lint.LintResults
	callSubrequest(t, s, &lr)
	if lr.Error == nil || !strings.Contains(lr.Error.Message, "empty version") || lr.Error.Location.Ranges[0].Start.Line != 4 {
		t.Fatalf("build error = %+v, want the empty version at line 4", lr.Error)
	}
}

func TestOutlineAndTargetsSubrequests(t *testing.T) {
	s := subrequestStub(outline.RequestSubrequestsOutline, nil)
	var o outline.Outline
	callSubrequest(t, s, &o)
	noSDKResolved(t, s)
	args := map[string]int32{}
	for _, a := range o.Args {
		args[a.Name] = a.Location.Ranges[0].Start.Line
	}
	if args["GO_VERSION"] != 4 {
		t.Errorf("GO_VERSION (used by an SDK line) at line %d, want 4: %v", args["GO_VERSION"], args)
	}
	if len(o.Secrets) != 1 || o.Secrets[0].Name != "tok" || o.Secrets[0].Location.Ranges[0].Start.Line != 9 {
		t.Errorf("secrets = %+v, want tok at line 9", o.Secrets)
	}
	if len(o.Sources) != 1 || string(o.Sources[0]) != checkDockerfile {
		t.Errorf("outline sources show the rewrite")
	}

	s = subrequestStub(targets.RequestTargets, nil)
	var tl targets.List
	res := callSubrequest(t, s, &tl)
	noSDKResolved(t, s)
	if len(tl.Targets) != 2 || tl.Targets[1].Name != "final" || tl.Targets[1].Location.Ranges[0].Start.Line != 8 {
		t.Errorf("targets = %+v", tl.Targets)
	}
	if !strings.Contains(string(res.Metadata["result.txt"]), "final") {
		t.Errorf("result.txt: %s", res.Metadata["result.txt"])
	}
}

// failingTags fails the test when a tag listing happens.
type failingTags struct{ t *testing.T }

func (f failingTags) ListTags(_ context.Context, repo string) ([]string, error) {
	f.t.Errorf("listed the tags of %s", repo)
	return nil, errors.New("no listing allowed")
}

// TestChecksWarnDuringBuilds: sdkfront's checks warn in a build as
// BuildKit's do, and "# check=error=true" fails the build.
func TestChecksWarnDuringBuilds(t *testing.T) {
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang\nFROM scratch as x\n"
	s, tags := sdkStub(df)
	wr := &warnRecorder{stubClient: s}
	if _, err := build(context.Background(), wr, tags); err != nil {
		t.Fatal(err)
	}
	// Clients print only warnings of vertices they know: sdkfront's go on
	// the vertex BuildKit's builder puts its own on.
	if a, b := wr.vertices["SDKWithoutVersion"], wr.vertices["FromAsCasing"]; a == "" || a != b {
		t.Errorf("sdkfront warned on vertex %s, BuildKit on %s", a, b)
	}
	if !slices.Contains(wr.msgs, "SDKWithoutVersion: SDK golang names no version: it gets the default version when the build runs, which changes when a new one is published; write golang@<version> (line 3)") {
		t.Errorf("warnings: %q", wr.msgs)
	}
	msgs := map[string]int32{}
	for _, w := range s.warnings {
		msgs[w.URL] = w.Range[0].Start.Line
	}
	if msgs[dockerfile.RuleSDKWithoutVersion.URL] != 3 {
		t.Errorf("SDKWithoutVersion not warned at line 3: %v", msgs)
	}
	for _, w := range s.warnings {
		if strings.Contains(string(w.SourceInfo.GetData()), "sdkfront-") {
			t.Errorf("a warning shows the rewritten Dockerfile")
		}
	}

	// sdkfront's rule and BuildKit's, in one list (check_test.go).
	s, tags = sdkStub("# check=error=true\n" + df)
	_, err := build(context.Background(), s, tags)
	if want := "lint violation found for rules: SDKWithoutVersion, FromAsCasing"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// TestBuildKitWarningsShowUsersLines: BuildKit's own lint warnings name the
// line in their text ("(line N)"); after an SDK line the rewritten file is
// one line longer, and the text must still name the user's line.
func TestBuildKitWarningsShowUsersLines(t *testing.T) {
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\nRUN true\nFROM scratch as x\n"
	s, tags := sdkStub(df)
	sc := &warnRecorder{stubClient: s}
	if _, err := build(context.Background(), sc, tags); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range sc.msgs {
		if strings.HasPrefix(m, "FromAsCasing:") {
			found = true
			if !strings.HasSuffix(m, "(line 5)") {
				t.Errorf("warning %q, want it at line 5", m)
			}
		}
	}
	if !found {
		t.Errorf("no FromAsCasing warning in %q", sc.msgs)
	}
}

type warnRecorder struct {
	*stubClient
	msgs     []string
	vertices map[string]digest.Digest // rule -> the vertex it warned on
}

func (w *warnRecorder) Warn(ctx context.Context, d digest.Digest, msg string, opts client.WarnOpts) error {
	w.msgs = append(w.msgs, msg)
	if w.vertices == nil {
		w.vertices = map[string]digest.Digest{}
	}
	rule, _, _ := strings.Cut(msg, ":")
	w.vertices[rule] = d
	return w.stubClient.Warn(ctx, d, msg, opts)
}

// TestPerPlatformSDKLines: an SDK line that names ${TARGETARCH} gets each
// target platform its own SDK; a difference one rewritten Dockerfile cannot
// express fails at the line.
func TestPerPlatformSDKLines(t *testing.T) {
	skipBuildKitRace(t)
	df := "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nARG TARGETARCH\nSDK tool${TARGETARCH}@1.0.0 --to=/opt/tool\nRUN tool\n"
	s, tags := sdkStub(df)
	s.opts["platform"] = "linux/amd64,linux/arm64"
	da := s.addSDK("reg.test/sdks/toolamd64:bookworm-1.0.0", 1, nil)
	db := s.addSDK("reg.test/sdks/toolarm64:bookworm-1.0.0", 1, nil)
	if _, err := build(context.Background(), s, tags); err != nil {
		t.Fatalf("build: %+v", err)
	}
	got := map[string]string{} // platform -> pinned digest
	for _, def := range s.solved {
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			if src := op.GetSource(); src != nil && strings.Contains(src.Identifier, "/sdks/tool") {
				got[op.Platform.Architecture] = src.Identifier
			}
		}
	}
	if !strings.HasSuffix(got["amd64"], "toolamd64@"+da.String()) || !strings.HasSuffix(got["arm64"], "toolarm64@"+db.String()) {
		t.Errorf("SDK sources per platform = %v", got)
	}

	// Without --to, the default directory names the version, which differs.
	df = "# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nARG TARGETARCH\nSDK tool${TARGETARCH}@1\n"
	s, tags = sdkStub(df)
	s.opts["platform"] = "linux/amd64,linux/arm64"
	tags.tags["reg.test/sdks/toolamd64"] = []string{"bookworm-1.0.0"}
	tags.tags["reg.test/sdks/toolarm64"] = []string{"bookworm-1.1.0"}
	s.addSDK("reg.test/sdks/toolamd64:bookworm-1.0.0", 1, nil)
	s.addSDK("reg.test/sdks/toolarm64:bookworm-1.1.0", 1, nil)
	_, err := build(context.Background(), s, tags)
	if err == nil {
		t.Fatal("build succeeded")
	}
	_ = sourceOf(t, err)
	if !strings.Contains(err.Error(), "--to=DIR") {
		t.Errorf("error %q does not say how to fix it", err)
	}
}

// TestFuseMatchesBuildKitsCopy guards the coupling to BuildKit's COPY
// lowering: the rewritten SDK instruction must come out of BuildKit's own
// converter as one file copy of "/*" from the SDK source, which Fuse turns
// into exactly one unpacking copy into the SDK directory.
func TestFuseMatchesBuildKitsCopy(t *testing.T) {
	s, tags := sdkStub("# sdk-source=reg.test/sdks/{platform}:{flavor}-{version}\nFROM busybox\nSDK golang@1.23.4\n")
	if _, err := build(context.Background(), s, tags); err != nil {
		t.Fatal(err)
	}
	def := s.finalDef()
	ops := map[string]*pb.Op{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		ops[digest.FromBytes(dt).String()] = &op
	}
	pins := sdkllb.Pins{}
	for _, op := range ops {
		if src := op.GetSource(); src != nil && strings.Contains(src.Identifier, "/sdks/golang@") {
			pins[src.Identifier] = true
		}
	}
	var copies []*pb.FileActionCopy
	for _, op := range ops {
		for i, in := range op.Inputs {
			if !pins.IsUnpackSource(ops[in.Digest]) {
				continue
			}
			for _, a := range op.GetFile().GetActions() {
				if a.SecondaryInput == int64(i) {
					copies = append(copies, a.GetCopy())
				}
			}
		}
	}
	if len(copies) != 1 {
		t.Fatalf("%d copies read the SDK source, want 1", len(copies))
	}
	cp := copies[0]
	if cp.Src != "/*" || cp.Dest != "/opt/golang/1.23.4/" || !cp.AttemptUnpackDockerCompatibility || !cp.AllowWildcard ||
		!cp.AllowEmptyWildcard || cp.DirCopyContents || !cp.CreateDestPath || !cp.FollowSymlink {
		t.Errorf("the fused copy is not what sdkfront expects of BuildKit's COPY: %+v", cp)
	}
}
