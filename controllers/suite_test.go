package controllers

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	Deployment: operatorDeployment.Name,
	NodeAgent:  NodeAgentOptions{CNIBinDir: "/opt/cni/bin", CNIConfDir: "/etc/cni/net.d", NetworkConfigMap: "ipkeeper-network"},
}

// operatorDeployment stands for the operator's Deployment.
var operatorDeployment = harness.OperatorDeployment("registry.invalid/ipkeeper:v9")

// createOperatorDeployment creates the operator's namespace and
// operatorDeployment.
func createOperatorDeployment() error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: harness.OperatorNamespace}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		return err
	}
	return env.Client.Create(context.Background(), operatorDeployment)
}

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
		if err = createOperatorDeployment(); err != nil {
			return env.Stop, err
		}
		mgr, err = env.StartManager(harness.ManagerOptions{
			MetricsAddr: metricsAddr,
			Setup:       func(m ctrl.Manager) error { return SetupWithManager(m, testOptions) },
		})
		return env.Stop, err
	}))
}
