package v1alpha1

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// IndexFields registers, in an informer cache, the IPClaim fields that the
// CRD also declares as selectableFields. A client.MatchingFields selector
// on FieldPool, FieldType, FieldNode, FieldContainerID or FieldPodUID then
// works the same against the cache and against the API server.
func IndexFields(ctx context.Context, indexer client.FieldIndexer) error {
	fields := map[string]func(*IPClaim) string{
		FieldPool: func(c *IPClaim) string { return c.Spec.Pool },
		FieldType: func(c *IPClaim) string { return string(c.Spec.Type) },
		FieldNode: func(c *IPClaim) string { return c.Spec.Node },
		FieldContainerID: func(c *IPClaim) string {
			if c.Spec.Owner == nil {
				return ""
			}
			return c.Spec.Owner.ContainerID
		},
		FieldPodUID: func(c *IPClaim) string {
			if c.Spec.Owner == nil {
				return ""
			}
			return c.Spec.Owner.UID
		},
	}
	for field, value := range fields {
		extract := func(obj client.Object) []string {
			v := value(obj.(*IPClaim))
			if v == "" {
				return nil
			}
			return []string{v}
		}
		if err := indexer.IndexField(ctx, &IPClaim{}, field, extract); err != nil {
			return fmt.Errorf("index IPClaim field %s: %w", field, err)
		}
	}
	return nil
}
