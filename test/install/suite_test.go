// Package install checks the install as a user gets it: config/default as
// the pinned kustomize renders it, accepted by a real API server; the image
// built as make build builds; and the node side, the node agent's code with
// a real token bound to a pod on a node, giving the plugin binary all it
// needs and nothing more.
package install

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
	// plugin is the built plugin binary, which the node agent installs.
	plugin *harness.Binaries
)

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if plugin, err = harness.PreparePlugin(); err != nil {
			return nil, err
		}
		if cluster, err = operator.Start(); err != nil {
			return plugin.Remove, err
		}
		env = cluster.Env
		return func() error { return errors.Join(cluster.Stop(), plugin.Remove()) }, nil
	}))
}
