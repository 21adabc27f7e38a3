package controllers

import (
	"os"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// The controllers run, as in production, in one manager against a real
// kube-apiserver and etcd, with a short grace period and scan interval so
// that the garbage collector acts within seconds.
const (
	testGracePeriod  = 2 * time.Second
	testScanInterval = 3 * time.Second
)

var (
	env *harness.Env
	mgr *harness.Manager
	// metricsAddr is where the manager serves /metrics over plain HTTP.
	metricsAddr string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if env, err = harness.Start(harness.Options{}); err != nil {
			return nil, err
		}
		if metricsAddr, err = harness.FreeLocalAddr(); err != nil {
			return env.Stop, err
		}
		mgr, err = env.StartManager(harness.ManagerOptions{
			MetricsAddr: metricsAddr,
			Setup: func(m ctrl.Manager) error {
				return SetupWithManager(m, Options{GCGracePeriod: testGracePeriod, GCScanInterval: testScanInterval})
			},
		})
		return env.Stop, err
	}))
}
