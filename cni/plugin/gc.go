package plugin

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/pkg/types"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// GC releases this node's claims for this network whose container interface
// is not among the valid attachments the runtime listed.
func (p *Plugin) GC(ctx context.Context) error {
	valid := map[types.GCAttachment]bool{}
	for _, a := range p.Config.ValidAttachments {
		valid[a] = true
	}
	claims, err := p.Cluster.NodeClaims(ctx, p.Node, "")
	if err != nil {
		return asCNIError("list this node's claims", err)
	}
	var errs []error
	for i := range claims {
		claim := &claims[i]
		owner := claim.Spec.Owner
		if claim.Spec.Type != ipamv1alpha1.ClaimTypeAddress || claim.Spec.Node != p.Node || owner == nil || owner.Network != p.Config.Network.Name {
			continue
		}
		if valid[types.GCAttachment{ContainerID: owner.ContainerID, IfName: owner.Interface}] {
			continue
		}
		if err := p.Cluster.Delete(ctx, claim); err != nil {
			errs = append(errs, err)
		}
	}
	return asCNIError("release stale claims", errors.Join(errs...))
}
