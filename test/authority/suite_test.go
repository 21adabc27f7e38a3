// Package authority checks who may write which claims, on a real control
// plane with the admission policy and the webhook configuration installed
// as config/default installs them, with credentials the API server really
// issues: tokens of the node service account bound to a pod on a node, as
// the node agent's projected token is.
package authority

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

var (
	cluster *operator.Cluster
	env     *harness.Env
	// binDir holds the plugin binary.
	binDir string
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if cluster, err = operator.Start(); err != nil {
			return nil, err
		}
		env, binDir = cluster.Env, cluster.Plugin.Dir
		return cluster.Stop, nil
	}))
}
