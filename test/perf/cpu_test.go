package perf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// userHZ is the unit of the CPU times in /proc/*/stat on Linux.
const userHZ = 100

// cpuParts are the parts of the system under test whose CPU time the
// end-to-end benchmarks report: on a shared 2-core machine, CPU time per
// operation is steadier than wall time, and it says where an ADD's cost
// goes.
//   - plugin: the plugin processes the runtime executed (reaped children);
//   - apiserver and etcd: the control plane envtest started;
//   - harness: this process, which runs libcni, the operator's
//     controllers and the admission webhooks (and in-process plugin calls).
var cpuParts = []string{"plugin", "apiserver", "etcd", "harness"}

// cpuTimes maps a part to its CPU time so far, in clock ticks.
type cpuTimes map[string]int64

// cpuMeter measures the CPU time each part spends during a benchmark.
type cpuMeter struct {
	start cpuTimes
	err   error
}

// startCPU starts measuring.
func startCPU() *cpuMeter {
	m := &cpuMeter{}
	m.start, m.err = readCPU()
	return m
}

// report reports each part's CPU time per operation since startCPU, in
// milliseconds. A machine without /proc reports nothing.
func (m *cpuMeter) report(b *testing.B) {
	b.Helper()
	end, err := readCPU()
	if m.err != nil || err != nil || b.N == 0 {
		b.Logf("no CPU times: %v", errors.Join(m.err, err))
		return
	}
	for _, part := range cpuParts {
		ms := float64(end[part]-m.start[part]) * 1000 / userHZ
		b.ReportMetric(ms/float64(b.N), part+"-cpu-ms/op")
	}
}

// readCPU reads the CPU times of this process, of its reaped children (the
// plugins) and of its live children kube-apiserver and etcd.
func readCPU() (cpuTimes, error) {
	self, err := readStat("/proc/self/stat")
	if err != nil {
		return nil, err
	}
	t := cpuTimes{"harness": self.utime + self.stime, "plugin": self.cutime + self.cstime}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	for _, path := range stats {
		st, err := readStat(path)
		if err != nil || st.ppid != os.Getpid() {
			continue // gone meanwhile, or not ours
		}
		switch st.comm {
		case "kube-apiserver":
			t["apiserver"] += st.utime + st.stime
		case "etcd":
			t["etcd"] += st.utime + st.stime
		}
	}
	return t, nil
}

// procStat is what readCPU needs of /proc/PID/stat.
type procStat struct {
	comm                         string
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(path string) (procStat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces; the numbered
	// fields follow the last ')', starting at field 3 (state).
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("%s: unexpected format", path)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%s: %d fields", path, len(f))
	}
	field := func(n int) int64 { v, _ := strconv.ParseInt(f[n-3], 10, 64); return v }
	return procStat{
		comm: s[open+1 : end], ppid: int(field(4)),
		utime: field(14), stime: field(15), cutime: field(16), cstime: field(17),
	}, nil
}
