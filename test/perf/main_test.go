// Package perf holds ipkeeper's benchmarks, and nothing else: the pure
// allocator on the in-memory Fake store, and the real plugin binary driven
// through libcni against a real kube-apiserver and etcd with the operator's
// controllers and the admission webhooks running, compared in the same run
// with the reference host-local IPAM plugin. docs/performance.md explains
// what they show; `make bench` runs them.
//
// Benchmarks report costs, they assert none: a shared 2-core machine makes
// any timed assertion flaky. Plain `go test ./...` runs none of them, and
// starts no control plane for them.
package perf

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain stops what the end-to-end benchmarks started. They start the
// control plane and build the plugins at the first benchmark that needs
// them (needCluster), so that a run without -bench, or of the allocator
// benchmarks alone, starts nothing.
func TestMain(m *testing.M) {
	flag.Parse()
	if !benchmarking() {
		// No benchmark will run: start nothing, so that the package costs
		// nothing in `make test`.
		os.Exit(m.Run())
	}
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// benchmarking reports whether go test was asked to run benchmarks.
func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

// TestBenchmarksOnly says, in `go test -v` output, where the benchmarks are
// and how to run them.
func TestBenchmarksOnly(t *testing.T) {
	t.Skip("test/perf holds benchmarks only: run `make bench` (see docs/performance.md)")
}
