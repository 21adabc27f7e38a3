// Package cni drives the ipkeeper plugin binary the way container runtimes
// do, through libcni, against a real kube-apiserver and etcd with the
// operator's controllers and the admission webhooks running.
package cni

import (
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
		var err error
		if cluster, err = operator.Start(); err != nil {
			return nil, err
		}
		env, binDir, kubeconfig = cluster.Env, cluster.Plugin.Dir, cluster.Kubeconfig
		return cluster.Stop, nil
	}))
}
