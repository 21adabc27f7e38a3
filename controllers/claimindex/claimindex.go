// Package claimindex registers the IPClaim field indexes of the operator's
// informer cache, which its controllers and its webhooks both read.
package claimindex

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Register registers, in an informer cache, the IPClaim fields that the CRD
// also declares as selectableFields. A client.MatchingFields selector on
// ipamv1alpha1.FieldPool, FieldType, FieldNode, FieldContainerID or
// FieldPodUID then works the same against the cache and against the API
// server.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	fields := map[string]func(*ipamv1alpha1.IPClaim) string{
		ipamv1alpha1.FieldPool: func(c *ipamv1alpha1.IPClaim) string { return c.Spec.Pool },
		ipamv1alpha1.FieldType: func(c *ipamv1alpha1.IPClaim) string { return string(c.Spec.Type) },
		ipamv1alpha1.FieldNode: func(c *ipamv1alpha1.IPClaim) string { return c.Spec.Node },
		ipamv1alpha1.FieldContainerID: func(c *ipamv1alpha1.IPClaim) string {
			if c.Spec.Owner == nil {
				return ""
			}
			return c.Spec.Owner.ContainerID
		},
		ipamv1alpha1.FieldPodUID: func(c *ipamv1alpha1.IPClaim) string {
			if c.Spec.Owner == nil {
				return ""
			}
			return c.Spec.Owner.UID
		},
	}
	for field, value := range fields {
		extract := func(obj client.Object) []string {
			v := value(obj.(*ipamv1alpha1.IPClaim))
			if v == "" {
				return nil
			}
			return []string{v}
		}
		if err := indexer.IndexField(ctx, &ipamv1alpha1.IPClaim{}, field, extract); err != nil {
			return fmt.Errorf("index ipamv1alpha1.IPClaim field %s: %w", field, err)
		}
	}
	return nil
}
