package controllers

import (
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// The controllers run, as in production, in one manager against a real
// kube-apiserver and etcd, with a short grace period and scan interval so
// that the garbage collector acts within seconds.
const (
	testGracePeriod  = 2 * time.Second
	testScanInterval = 3 * time.Second
	// operatorTimeout is ample for the operator to act on a busy machine;
	// it costs time only when a test fails.
	operatorTimeout = 30 * time.Second
)

// testOptions run the operator as its Deployment would: the node agent's
// image comes from the operator's own Deployment.
var testOptions = Options{
	GCGracePeriod: testGracePeriod, GCScanInterval: testScanInterval,
	Namespace: harness.OperatorNamespace, NodeServiceAccount: harness.NodeServiceAccount,
	Deployment: harness.OperatorName,
	NodeAgent:  NodeAgentOptions{CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d", NetworkConfigMap: "ipkeeper-network"},
}

// operatorDeployment stands for the operator's Deployment.
var operatorDeployment *appsv1.Deployment

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
		if operatorDeployment, err = env.CreateOperatorDeployment("registry.invalid/ipkeeper:v9"); err != nil {
			return env.Stop, err
		}
		mgr, err = env.StartManager(harness.ManagerOptions{
			MetricsAddr: metricsAddr,
			Setup:       func(m ctrl.Manager) error { return SetupWithManager(m, testOptions) },
		})
		return env.Stop, err
	}))
}
