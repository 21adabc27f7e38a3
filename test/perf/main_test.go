// Package perf holds ipkeeper's benchmarks, and nothing else: the pure
// allocator on the in-memory Fake store, and, on a real kube-apiserver and
// etcd installed as config/default installs ipkeeper (admission policy,
// webhook configuration, the manager binary as a process), the plugin
// binary driven through libcni on simulated nodes with node-bound
// credentials, beside a raw-create baseline built and run the same way;
// the pool at rising fill levels, with borrowing; ADD/DEL churn; the first
// ADD of a node after its cluster was rebuilt; and the operator with
// 50,000 claims and 50,000 pods. docs/performance.md explains what they
// show; `make bench` runs them.
//
// Benchmarks report costs, they assert none that is timed: a shared 2-core
// machine makes any timed assertion flaky. What must hold whatever the
// machine (no address handed out twice, no claim left behind) fails the
// benchmark. Plain `go test ./...` runs none of them, and starts no
// control plane for them.
package perf

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestMain removes what the end-to-end benchmarks built. They build the
// binaries at the first benchmark that needs them (needBinaries), and
// each starts and stops its own control plane, so that a run without
// -bench, or of the allocator benchmarks alone, starts nothing and builds
// nothing.
func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) { return stopShared, nil }))
}
