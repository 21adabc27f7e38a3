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
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestMain stops what the end-to-end benchmarks started. They prepare the
// plugins and start the control plane at the first benchmark that needs
// them (needBinaries, needCluster), so that a run without -bench, or of the
// allocator benchmarks alone, starts nothing and stops nothing.
func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) { return stopShared, nil }))
}
