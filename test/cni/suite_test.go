// Package cni drives the ipkeeper plugin binary the way container runtimes
// do, through libcni, against a real kube-apiserver and etcd with the
// operator's controllers and the admission webhooks running.
package cni

import (
	"errors"
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

var (
	cluster *operator.Cluster
	env     *harness.Env
	// binDir holds the plugin binary (the CNI_PATH of every call).
	binDir string
	// kubeconfig is the plugin's kubeconfig (an administrator's).
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		plugin, err := harness.PreparePlugin()
		if err != nil {
			return nil, err
		}
		if cluster, err = operator.Start(); err != nil {
			return plugin.Remove, err
		}
		env, binDir, kubeconfig = cluster.Env, plugin.Dir, cluster.Kubeconfig
		return func() error { return errors.Join(cluster.Stop(), plugin.Remove()) }, nil
	}))
}
