package plugin

import (
	"context"
	"net/netip"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
)

var _ Cluster = (*Fake)(nil)

// Fake is an in-memory Cluster for tests: the allocator's Fake holds the
// claims, the maps the objects a call reads. Its reads are never stale.
// Fill the maps before the calls: the Fake reads them from several
// goroutines without a lock, as an ADD does.
type Fake struct {
	*allocator.Fake
	// Pods are keyed by namespace/name.
	Pods map[string]*metav1.PartialObjectMetadata
	// Namespaces and Nodes are keyed by name.
	Namespaces, Nodes map[string]*metav1.PartialObjectMetadata
	Pools             map[string]*ipamv1alpha1.IPPool
	// Errs fails every call of a method, by name ("Delete", "NodeClaims",
	// "Ping"...): the call returns the error and does nothing else.
	Errs map[string]error
	// NotOlderThan records the resourceVersion each NodeClaims call asked
	// for ("" for a consistent list), in order.
	NotOlderThan []string
	// ReachedVersion is what Reached returns.
	ReachedVersion string
	// On runs a function as each call of a method starts, by name
	// ("NodeClaims", "Pool"); set it before the calls.
	On map[string]func()
	// Unreached are versions the API server never issued: a NodeClaims
	// call asking for one waits until its context ends, as the API server
	// holds such a read until it gives up.
	Unreached []string
}

// NewFake returns a Fake holding claims and no other object.
func NewFake(claims ...*ipamv1alpha1.IPClaim) *Fake {
	return &Fake{
		Fake: allocator.NewFake(claims...),
		Pods: map[string]*metav1.PartialObjectMetadata{}, Namespaces: map[string]*metav1.PartialObjectMetadata{},
		Nodes: map[string]*metav1.PartialObjectMetadata{}, Pools: map[string]*ipamv1alpha1.IPPool{},
		Errs: map[string]error{},
	}
}

// PodMeta implements Cluster.
func (f *Fake) PodMeta(_ context.Context, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	if err := f.Errs["PodMeta"]; err != nil {
		return nil, err
	}
	return f.Pods[namespace+"/"+name], nil
}

// NamespaceMeta implements Cluster.
func (f *Fake) NamespaceMeta(_ context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	if err := f.Errs["NamespaceMeta"]; err != nil {
		return nil, err
	}
	return f.Namespaces[name], nil
}

// NodeMeta implements Cluster.
func (f *Fake) NodeMeta(_ context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	if err := f.Errs["NodeMeta"]; err != nil {
		return nil, err
	}
	return f.Nodes[name], nil
}

// Pool implements Cluster.
func (f *Fake) Pool(_ context.Context, name string) (*ipamv1alpha1.IPPool, error) {
	if err := f.Errs["Pool"]; err != nil {
		return nil, err
	}
	f.on("Pool")
	return f.Pools[name], nil
}

// on runs the function On holds for method, if any.
func (f *Fake) on(method string) {
	if run := f.On[method]; run != nil {
		run()
	}
}

// NodeClaims implements Cluster.
func (f *Fake) NodeClaims(ctx context.Context, node, notOlderThan string) ([]ipamv1alpha1.IPClaim, error) {
	if err := f.Errs["NodeClaims"]; err != nil {
		return nil, err
	}
	f.NotOlderThan = append(f.NotOlderThan, notOlderThan)
	f.on("NodeClaims")
	if slices.Contains(f.Unreached, notOlderThan) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return f.List("NodeClaims", func(c *ipamv1alpha1.IPClaim) bool { return c.Spec.Node == node }), nil
}

// ContainerClaims implements Cluster.
func (f *Fake) ContainerClaims(_ context.Context, containerID, _ string) ([]ipamv1alpha1.IPClaim, error) {
	if err := f.Errs["ContainerClaims"]; err != nil {
		return nil, err
	}
	return f.List("ContainerClaims", func(c *ipamv1alpha1.IPClaim) bool {
		return c.Spec.Owner != nil && c.Spec.Owner.ContainerID == containerID
	}), nil
}

// Reached implements Cluster.
func (f *Fake) Reached() string { return f.ReachedVersion }

// Ping implements Cluster.
func (f *Fake) Ping(context.Context) error { return f.Errs["Ping"] }

// PoolBlocks implements allocator.Store.
func (f *Fake) PoolBlocks(ctx context.Context, pool string) (map[netip.Prefix]string, error) {
	if err := f.Errs["PoolBlocks"]; err != nil {
		return nil, err
	}
	return f.Fake.PoolBlocks(ctx, pool)
}

// BlockAddresses implements allocator.Store.
func (f *Fake) BlockAddresses(ctx context.Context, block netip.Prefix) ([]netip.Addr, error) {
	if err := f.Errs["BlockAddresses"]; err != nil {
		return nil, err
	}
	return f.Fake.BlockAddresses(ctx, block)
}

// Get implements allocator.Store.
func (f *Fake) Get(ctx context.Context, name string) (*ipamv1alpha1.IPClaim, error) {
	if err := f.Errs["Get"]; err != nil {
		return nil, err
	}
	return f.Fake.Get(ctx, name)
}

// Create implements allocator.Store.
func (f *Fake) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	if err := f.Errs["Create"]; err != nil {
		return err
	}
	return f.Fake.Create(ctx, claim)
}

// Delete implements allocator.Store.
func (f *Fake) Delete(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	if err := f.Errs["Delete"]; err != nil {
		return err
	}
	return f.Fake.Delete(ctx, claim)
}
