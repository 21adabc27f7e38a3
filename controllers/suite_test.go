package controllers

import (
	"fmt"
	"os"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/test/testenv"
)

// The controllers run, as in production, in one manager against a real
// kube-apiserver and etcd, with a short grace period and scan interval so
// that the garbage collector acts within seconds.
const (
	testGracePeriod  = 2 * time.Second
	testScanInterval = 3 * time.Second
)

var (
	env *testenv.Env
	mgr *testenv.Manager
	// metricsAddr is where the manager serves /metrics over plain HTTP.
	metricsAddr string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if metricsAddr, err = testenv.FreeLocalAddr(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err = env.StartManager(testenv.ManagerOptions{
		MetricsAddr: metricsAddr,
		Setup: func(m ctrl.Manager) error {
			return SetupWithManager(m, Options{GCGracePeriod: testGracePeriod, GCScanInterval: testScanInterval})
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := mgr.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}
