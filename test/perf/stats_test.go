package perf

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// latencies are the durations of the operations of one run.
type latencies []time.Duration

// percentile returns the q-quantile (0 < q <= 1) by the nearest-rank
// method, in milliseconds: the duration that a share q of the operations
// did not exceed.
func (l latencies) percentile(q float64) float64 {
	if len(l) == 0 {
		return 0
	}
	sorted := slices.Clone(l)
	slices.Sort(sorted)
	i := max(int(math.Ceil(q*float64(len(sorted))))-1, 0)
	return float64(sorted[i]) / float64(time.Millisecond)
}

// report reports the 50th, 95th and 99th percentiles under prefix.
func (l latencies) report(b *testing.B, prefix string) {
	b.ReportMetric(l.percentile(0.50), prefix+"p50-ms")
	b.ReportMetric(l.percentile(0.95), prefix+"p95-ms")
	b.ReportMetric(l.percentile(0.99), prefix+"p99-ms")
}

// pluginResources and pluginVerbs are what the plugin processes (and the
// baseline) ask the API server for, in the labels of
// apiserver_request_total. During the timed part of a benchmark nothing
// else makes such a request: the benchmark process only starts plugins,
// and the operator reads from its cache and writes only status, events
// and admission objects. Watches are left out: the operator's informers
// renew theirs now and then.
var (
	pluginResources = []string{"ipclaims", "ippools", "pods", "namespaces", "nodes"}
	pluginVerbs     = []string{"GET", "LIST", "POST", "DELETE"}
	sampleLabel     = regexp.MustCompile(`(\w+)="([^"]*)"`)
)

// pluginRequests returns how many requests the API server has answered of
// the kinds the plugin makes, by its own count (apiserver_request_total):
// it counts the real binaries' requests, whatever their client does.
func pluginRequests(env *harness.Env) (float64, error) {
	samples, err := env.APIServerMetrics()
	if err != nil {
		return 0, err
	}
	var total float64
	for series, v := range samples {
		labels, ok := strings.CutPrefix(series, "apiserver_request_total{")
		if !ok {
			continue
		}
		l := map[string]string{}
		for _, m := range sampleLabel.FindAllStringSubmatch(labels, -1) {
			l[m[1]] = m[2]
		}
		if slices.Contains(pluginResources, l["resource"]) && l["subresource"] == "" && slices.Contains(pluginVerbs, l["verb"]) {
			total += v
		}
	}
	return total, nil
}

// requestMeter counts the plugin's requests between start and perOp.
type requestMeter struct {
	env   *harness.Env
	start float64
}

func startRequests(b *testing.B, env *harness.Env) *requestMeter {
	b.Helper()
	n, err := pluginRequests(env)
	if err != nil {
		b.Fatal(err)
	}
	return &requestMeter{env: env, start: n}
}

// perOp returns the requests since start divided by ops.
func (m *requestMeter) perOp(b *testing.B, ops int) float64 {
	b.Helper()
	n, err := pluginRequests(m.env)
	if err != nil {
		b.Fatal(err)
	}
	return (n - m.start) / float64(ops)
}

// runLog keeps, per sub-benchmark, what the last run of each -count
// repetition measured: the testing package runs a benchmark function with
// b.N = 1 first, then with larger b.N until the run lasts -benchtime, and
// reports only the last run. The tables the benchmarks print are medians
// over the repetitions, like benchstat's.
type runLog[T any] struct {
	mu    sync.Mutex
	order []string
	runs  map[string][]T
}

func newRunLog[T any]() *runLog[T] {
	return &runLog[T]{runs: map[string][]T{}}
}

// record records what a run of b measured.
func (l *runLog[T]) record(b *testing.B, r T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := b.Name()
	runs, seen := l.runs[name]
	if !seen {
		l.order = append(l.order, name)
	}
	if b.N == 1 || len(runs) == 0 {
		l.runs[name] = append(runs, r)
		return
	}
	runs[len(runs)-1] = r
}

// median returns the median over the repetitions of name of what value
// reads from a run, and whether name ran.
func (l *runLog[T]) median(name string, value func(T) float64) (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	runs := l.runs[name]
	if len(runs) == 0 {
		return 0, false
	}
	vs := make([]float64, len(runs))
	for i, r := range runs {
		vs[i] = value(r)
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// table is a readable table for the benchmark log.
type table struct {
	title string
	rows  [][]string
}

func newTable(title string, header ...string) *table {
	return &table{title: title, rows: [][]string{header}}
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
}

// print prints the table on standard output, where `make bench` keeps the
// benchmark lines: a benchmark with sub-benchmarks shows its own log only
// with -v. The lines are indented, and the title starts with a capital
// letter, so that benchstat, which reads "key: value" lines as
// configuration, passes over them.
func (t *table) print() {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, row := range t.rows {
		for len(row) < len(t.rows[0]) {
			row = append(row, "")
		}
		fmt.Fprintln(w, "    "+strings.Join(row, "\t")+"\t")
	}
	_ = w.Flush()
	fmt.Printf("%s\n%s\n", t.title, sb.String())
}

// num formats a table cell: "-" when the value is missing.
func num(v float64, ok bool, format string) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratio formats a/b: "-" when either is missing or b is zero.
func ratio(a float64, aok bool, b float64, bok bool) string {
	if !aok || !bok || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}
