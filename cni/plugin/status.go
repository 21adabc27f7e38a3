package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Status reports whether the plugin can work on this node at all: its
// configuration, node name and kubeconfig load (Load), and the API server
// answers and accepts its credentials. Otherwise it returns CNI error 50
// (plugin not available), saying why.
//
// The state of a pool never fails STATUS: runtimes report a failed STATUS
// as a node that is not ready, and Kubernetes evicts the pods of such a
// node. A full, disabled or unselected pool is reported where it can be
// acted on: in the ADD's error, the pool's conditions, events and metrics.
func (p *Plugin) Status(ctx context.Context) error {
	err := p.Cluster.Ping(ctx)
	switch {
	case err == nil, apierrors.IsTooManyRequests(err):
		// An API server that throttles the plugin answers: an ADD now
		// fails with 11 and the runtime retries, but the node can work.
		return nil
	case apierrors.IsUnauthorized(err):
		return unavailable("the API server refuses the plugin's credentials (%v): the node agent rewrites the kubeconfig %s; check that it runs on this node", err, p.Config.IPAM.Kubeconfig)
	case apierrors.IsForbidden(err):
		return unavailable("the plugin's credentials may not read pools (%v): bind the node service account to the ipkeeper node ClusterRole", err)
	}
	return unavailable("the API server does not answer: %v", err)
}

// StatusError returns err, the failure of a STATUS call, as the runtime
// must see it: a configuration that does not load (7) answers 50 instead,
// since the node agent may not have written the kubeconfig or the node
// name yet, and until it has, the plugin cannot work on this node.
func StatusError(err error) error {
	var cniErr *types.Error
	if errors.As(err, &cniErr) && cniErr.Code == types.ErrInvalidNetworkConfig {
		return types.NewError(types.ErrPluginNotAvailable, cniErr.Msg, cniErr.Details)
	}
	return err
}

func unavailable(format string, args ...any) error {
	return types.NewError(types.ErrPluginNotAvailable, "ipkeeper cannot allocate: "+fmt.Sprintf(format, args...), "")
}
