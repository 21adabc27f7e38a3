// Package install checks the install as a user gets it: config/default as
// the pinned kustomize renders it, accepted by a real API server; the image
// built as make build builds; and the node side, the node agent's code with
// a real token bound to a pod on a node, giving the plugin binary all it
// needs and nothing more.
package install

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
	"github.com/ipkeeper/ipkeeper/test/harness/operator"
)

var (
	cluster *operator.Cluster
	env     *harness.Env
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if cluster, err = operator.Start(); err != nil {
			return nil, err
		}
		env = cluster.Env
		return cluster.Stop, nil
	}))
}
