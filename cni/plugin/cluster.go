package plugin

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/apiserver"
)

// The API server's client is checked here rather than beside it: package
// apiserver cannot import this one, which builds the client.
var _ Cluster = (*apiserver.Client)(nil)

// Cluster is everything a CNI call reads from and writes to the cluster:
// the allocator's claim store, and the objects that choose the pools and
// find a container's claims. apiserver.Client is the real one; Fake serves
// the tests. A missing pod, namespace, node or pool is (nil, nil): what
// that means is the plugin's decision.
type Cluster interface {
	allocator.Store
	// PodMeta returns a pod's metadata, read consistently.
	PodMeta(ctx context.Context, namespace, name string) (*metav1.PartialObjectMetadata, error)
	// NamespaceMeta returns a namespace's metadata, read consistently.
	NamespaceMeta(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error)
	// NodeMeta returns a node's metadata, possibly a moment stale.
	NodeMeta(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error)
	// Pool returns a pool, read consistently.
	Pool(ctx context.Context, name string) (*ipamv1alpha1.IPPool, error)
	// NodeClaims lists every claim of node, not older than the
	// resourceVersion notOlderThan (consistently when it is empty).
	NodeClaims(ctx context.Context, node, notOlderThan string) ([]ipamv1alpha1.IPClaim, error)
	// ContainerClaims lists the claims of a CNI container ID, not older
	// than notOlderThan (consistently when it is empty).
	ContainerClaims(ctx context.Context, containerID, notOlderThan string) ([]ipamv1alpha1.IPClaim, error)
	// Reached returns the API server's resourceVersion as of the last list
	// of NodeClaims or ContainerClaims that could not be served not older
	// than the version asked for in time and was made consistently instead,
	// or "" when there was none. A version the node remembers beyond it was
	// never issued by this API server: the cluster was rebuilt or restored
	// under the node.
	Reached() string
	// Ping checks that the API server answers and lets the plugin read
	// pools.
	Ping(ctx context.Context) error
}
