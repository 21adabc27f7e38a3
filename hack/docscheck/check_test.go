package docscheck

import (
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// sampleModule is a small checkout with one package imported under an
// alias, a test that asserts a message, and a package of its own whose
// test strings do not count.
func sampleModule() fstest.MapFS {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"go.mod": file("module example.com/m\n\ngo 1.26\n"),
		"Makefile": file("VAR ?= x\n.PHONY: build\nbuild: ## Build.\n\tgo build ./...\n" +
			"test unit: build\n\tgo test ./...\n$(TOOL):\n\ttrue\n"),
		"main.go": file("package main\n\nfunc main() {}\n"),
		"api/v1/types.go": file("package v1\n\n" +
			"type Pool struct{ Spec string `json:\"blockSize\"` }\n\nfunc (p *Pool) Layout() {}\n\nconst LabelPool = \"pool\"\n" +
			"\nconst ReasonGone = \"PodGone\"\n"),
		"config/crd/pool.yaml": file("properties:\n  lastTransitionTime:\n    type: string\n"),
		"cni/plugin/plugin.go": file("package plugin\n\nimport (\n" +
			"\tmetav1 \"k8s.io/apimachinery/pkg/apis/meta/v1\"\n\n\tipv1 \"example.com/m/api/v1\"\n)\n\n" +
			"var _ = ipv1.LabelPool\nvar _ metav1.Time\n\nfunc Load() {}\n\nfunc retryOnConflict() {}\n"),
		"cni/plugin/plugin_test.go": file("package plugin\n\nimport \"testing\"\n\n" +
			"func TestLoad(t *testing.T) {\n\t_ = `pool \"a\" is exhausted (2/2 in use): add a pool`\n" +
			"\t_ = \"joined \" + \"across a plus\"\n}\n\nfunc BenchmarkAdd(b *testing.B) {}\n"),
		"hack/docscheck/own_test.go": file("package docscheck\n\nvar _ = \"only the check's own sample\"\n"),
		"tools/go.mod":               file("module example.com/m/tools\n"),
		"tools/tools.go":             file("package tools\n\nfunc Hidden() {}\n"),
		"docs/other.md":              file("# Other\n\n## A part\n"),
	}
}

func loadSample(t *testing.T, doc string) *Module {
	t.Helper()
	fsys := sampleModule()
	fsys["docs/guide.md"] = &fstest.MapFile{Data: []byte(doc)}
	m, err := LoadModule(fsys, "hack/docscheck")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClassify(t *testing.T) {
	m := loadSample(t, "")
	tests := []struct {
		span  string
		kind  kind
		names []string
	}{
		{"cni/plugin/add.go", kindPath, []string{"cni/plugin/add.go"}},
		{"config/crd/bases", kindPath, []string{"config/crd/bases"}},
		{"test/perf/", kindPath, []string{"test/perf/"}},
		{"main.go", kindPath, []string{"main.go"}},
		{"bundle.Dockerfile", kindPath, []string{"bundle.Dockerfile"}},
		{"hack/test-assets.sh envtest", kindPath, []string{"hack/test-assets.sh"}},
		{"./bin", kindOther, nil},
		{"bin/manager", kindOther, nil},
		{"make test", kindMake, []string{"test"}},
		{"make deploy IMG=x -j2", kindMake, []string{"deploy"}},
		{"make bench BENCH_FLAGS='-count 1 -benchtime 300ms'", kindMake, []string{"bench"}},
		{"$ make a b # comment", kindMake, []string{"a", "b"}},
		{"ipv1.LabelPool", kindGo, []string{"ipv1.LabelPool"}},
		{"v1.Pool.Layout", kindGo, []string{"v1.Pool.Layout"}},
		{"plugin.Load", kindGo, []string{"plugin.Load"}},
		{"plugin.retryOnConflict", kindGo, []string{"plugin.retryOnConflict"}},
		{"addr.Count", kindGo, []string{"addr.Count"}},
		{"retryOnConflict()", kindGo, []string{"retryOnConflict"}},
		{"TestLoad", kindTest, []string{"TestLoad"}},
		{"BenchmarkAdd/plugin=X", kindTest, []string{"BenchmarkAdd"}},
		{"metav1.Time", kindOther, nil},
		{"b.RunParallel", kindOther, nil},
		{"spec.pool", kindOther, nil},
		{"ipam.timeout", kindOther, nil},
		{"pod.status.podIPs", kindOther, nil},
		{"ipam.ipkeeper.dev/pool", kindOther, nil},
		{"github.com/operator-framework/api", kindOther, nil},
		{"10.32.0.0/12", kindOther, nil},
		{"/etc/cni/net.d/10-ipkeeper.conflist", kindOther, nil},
		{"dataDir/<node>/<pool>.lock", kindOther, nil},
		{"B/op", kindOther, nil},
		{"kubectl get ippools", kindOther, nil},
		{"go test ./...", kindOther, nil},
		{"cmdAdd", kindWord, []string{"cmdAdd"}},
		{"blockSize", kindWord, []string{"blockSize"}},
		{"caBundle", kindOther, nil},
		{"IPPool", kindOther, nil},
		{"--gc-grace-period", kindOther, nil},
		{"Testing", kindOther, nil},
	}
	for _, tt := range tests {
		k, names := m.classify(tt.span)
		if k != tt.kind || !reflect.DeepEqual(names, tt.names) {
			t.Errorf("classify(%q) = %v, %q; want %v, %q", tt.span, k, names, tt.kind, tt.names)
		}
	}
}

func TestCheckReportsWhatDoesNotExist(t *testing.T) {
	doc := "# Guide\n" +
		"\n" +
		"Exists: `cni/plugin/plugin.go`, `docs/`, `main.go`, `make build`, `make test unit`,\n" +
		"`ipv1.LabelPool`, `v1.Pool.Layout`, `v1.Pool.Spec`, `plugin.Load`, `retryOnConflict()`,\n" +
		"`TestLoad`, [other](other.md#a-part), [here](#guide), [web](https://example.com/x#y),\n" +
		"`blockSize`, `PodGone`, `lastTransitionTime`, `LabelPool`.\n" +
		"\n" +
		"Stale: `cni/plugin/add.go`, `make deploy`, `ipv1.IndexFields`, `addr.Count`,\n" +
		"`tools.Hidden`, `cmdDel()`, `TestGone`, [gone](gone.md), `NextFreeBlock`,\n" +
		"[part](other.md#no-part).\n" +
		"\n" +
		"| rule | example message |\n" +
		"|---|---|\n" +
		"| exhausted | `pool \"a\" is exhausted (2/2 in use)…` |\n" +
		"| joined | `joined across a plus` |\n" +
		"| reworded | `pool \"a\" is full` |\n" +
		"| own | `only the check's own sample` |\n" +
		"\n" +
		"```message\n" +
		"…is exhausted…add a pool\n" +
		"add a pool…is exhausted\n" +
		"```\n" +
		"\n" +
		"```sh\n" +
		"$ make build\n" +
		"make release   # gone\n" +
		"kubectl apply -f x.yaml\n" +
		"```\n"
	m := loadSample(t, doc)
	findings, err := m.Check("docs/guide.md")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	want := []string{
		"docs/guide.md:8: `cni/plugin/add.go`: no such file or directory in the repository",
		"docs/guide.md:8: `make deploy`: the Makefile has no target \"deploy\"",
		"docs/guide.md:8: `ipv1.IndexFields`: api/v1 (ipv1) declares no IndexFields",
		"docs/guide.md:8: `addr.Count`: no package of the module is named or imported as addr",
		"docs/guide.md:9: `tools.Hidden`: no package of the module is named or imported as tools",
		"docs/guide.md:9: `cmdDel()`: no package of the module declares cmdDel",
		"docs/guide.md:9: `TestGone`: no _test.go file of the module declares TestGone",
		"docs/guide.md:9: `NextFreeBlock`: neither the module's Go code",
		"docs/guide.md:9: `gone.md`: docs/gone.md does not exist",
		"docs/guide.md:10: `other.md#no-part`: no heading has the anchor #no-part",
		"docs/guide.md:16: `pool \"a\" is full`: no _test.go file asserts this example message",
		"docs/guide.md:17: `only the check's own sample`: no _test.go file asserts this example message",
		"docs/guide.md:21: `add a pool…is exhausted`: no _test.go file asserts this example message",
		"docs/guide.md:26: `make release   # gone`: the Makefile has no target \"release\"",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d = %s\nwant it to start with %s", i, got[i], want[i])
		}
	}
}

// planted is the checkout with one doc's text changed.
type planted struct {
	fs.FS
	name string
	data string
}

func (p planted) Open(name string) (fs.File, error) {
	if name == p.name {
		return fstest.MapFS{name: &fstest.MapFile{Data: []byte(p.data)}}.Open(name)
	}
	return p.FS.Open(name)
}

// TestDocsCheckCatchesPlantedStaleNames plants stale names, the ones these
// docs used to cite, at the end of this checkout's own docs and expects
// each to be reported.
func TestDocsCheckCatchesPlantedStaleNames(t *testing.T) {
	tests := []struct {
		file, plant, want string
	}{
		{"docs/design.md", "the operator's cache indexes them (`ipamv1alpha1.IndexFields`)",
			"`ipamv1alpha1.IndexFields`: api/v1alpha1 (ipamv1alpha1) declares no IndexFields"},
		{"docs/design.md", "the allocator's `FreeBlockAfter` finds the next block",
			"`FreeBlockAfter`: neither the module's Go code"},
		{"docs/design.md", "exact counts (`ipamv1alpha1.Count`)",
			"`ipamv1alpha1.Count`: api/v1alpha1 (ipamv1alpha1) declares no Count"},
		{"README.md", "the operator's entry point is `cmd/manager`",
			"`cmd/manager`: no such file or directory"},
		{"README.md", "`make benchmarks` runs the benchmarks", "the Makefile has no target \"benchmarks\""},
		{"docs/performance.md", "the claims of [design.md](design.md#principle)",
			"`design.md#principle`: no heading has the anchor #principle"},
		{"docs/webhook.md", "```message\n" +
			`10.32.5.5 is held by claim "10.32.5.5" (pod default/web-0): release it first (delete the pod, or the claim), or exclude a range without it` +
			"\n```", "no _test.go file asserts this example message"},
	}
	root := os.DirFS("../..")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := fs.ReadFile(root, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := LoadModule(planted{FS: root, name: tt.file, data: string(src) + "\n" + tt.plant + "\n"}, ownDir)
			if err != nil {
				t.Fatal(err)
			}
			findings, err := m.Check(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(findings) != 1 || !strings.Contains(findings[0].String(), tt.want) {
				t.Fatalf("findings = %v; want one with %q", findings, tt.want)
			}
			t.Log(findings[0])
		})
	}
}
