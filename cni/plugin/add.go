package plugin

import (
	"context"
	"sync"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
	"github.com/ipkeeper/ipkeeper/cni/poolchoice"
)

// Add reserves one address per family for the container interface and
// returns the CNI result. It takes the node's lock on the configured pools
// first, so that the node's claims are listed beside the reads of the pod,
// its namespace and the pools (earlyList).
func (p *Plugin) Add(ctx context.Context, args *skel.CmdArgs) (types.Result, error) {
	pod, err := parsePodArgs(args)
	if err != nil {
		return nil, err
	}
	state, err := p.stateDir()
	if err != nil {
		return nil, asCNIError("reserve addresses", err)
	}
	h := &held{}
	if len(p.Config.IPAM.Pools) > 0 {
		if h, err = p.hold(ctx, state, p.Config.IPAM.Pools); err != nil {
			return nil, asCNIError("reserve addresses", err)
		}
		h.early = p.startNodeClaims(ctx, poolStates(state, h.pools))
	}
	defer h.release()
	in, err := p.readInputs(ctx, pod)
	if err != nil {
		return nil, asCNIError("read the pod, its namespace and the pools", err)
	}
	families, err := p.plan(ctx, pod, in)
	if err != nil {
		return nil, asCNIError("choose pools", err)
	}
	owner := p.owner(args, pod, in)
	claims, err := p.allocate(ctx, state, h, families, owner, in.pools)
	if err != nil {
		return nil, asCNIError("reserve addresses", err)
	}
	// A repeated ADD may return claims of pools this one did not choose.
	poolsOfClaims := make([]string, len(claims))
	for i, claim := range claims {
		poolsOfClaims[i] = claim.Spec.Pool
	}
	if err := p.readUnreadPools(ctx, poolsOfClaims, in); err != nil {
		return nil, asCNIError("read the pool of a reserved address", err)
	}
	return buildResult(p.Config.Network.CNIVersion, claims, in.pools)
}

// readUnreadPools reads the named pools that in does not hold yet; a pool
// that does not exist is recorded as nil, so it is read once.
func (p *Plugin) readUnreadPools(ctx context.Context, names []string, in *inputs) error {
	for _, name := range names {
		if _, read := in.pools[name]; read {
			continue
		}
		pool, err := p.Cluster.Pool(ctx, name)
		if err != nil {
			return err
		}
		in.pools[name] = pool
	}
	return nil
}

// inputs are what an ADD reads before it allocates.
type inputs struct {
	podAnnotations       map[string]string
	podUID               string
	namespaceAnnotations map[string]string
	namespaceLabels      map[string]string
	nodeLabels           map[string]string
	// pools holds every pool read, nil for those that do not exist.
	pools map[string]*ipamv1alpha1.IPPool
}

// readInputs reads the pod, its namespace and the configured pools in
// parallel: one round trip of latency. Only the pod is read consistently;
// the rest comes from the watch cache.
func (p *Plugin) readInputs(ctx context.Context, pod podArgs) (*inputs, error) {
	in := &inputs{pools: map[string]*ipamv1alpha1.IPPool{}, podUID: pod.UID}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	run := func(read func() error) {
		wg.Go(func() {
			if err := read(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	if pod.isKubernetes() {
		run(func() error { return p.readPod(ctx, pod, in) })
		run(func() error { return p.readNamespace(ctx, pod.Namespace, in) })
	}
	for _, name := range p.Config.IPAM.Pools {
		run(func() error { return p.readPool(ctx, name, in, &mu) })
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return in, nil
}

// readPod reads the pod's annotations, and its uid when the runtime did not
// pass K8S_POD_UID.
func (p *Plugin) readPod(ctx context.Context, pod podArgs, in *inputs) error {
	meta, err := p.Cluster.PodMeta(ctx, pod.Namespace, pod.Name)
	if err != nil {
		return err
	}
	if meta == nil {
		return cnierr.New(types.ErrTryAgainLater, "pod %s/%s does not exist on the API server", pod.Namespace, pod.Name)
	}
	in.podAnnotations = meta.Annotations
	if in.podUID == "" {
		in.podUID = string(meta.UID)
	}
	return nil
}

// readNamespace reads the annotations and labels of the pod's namespace; a
// missing namespace has none.
func (p *Plugin) readNamespace(ctx context.Context, name string, in *inputs) error {
	ns, err := p.Cluster.NamespaceMeta(ctx, name)
	if err != nil || ns == nil {
		return err
	}
	in.namespaceAnnotations, in.namespaceLabels = ns.Annotations, ns.Labels
	return nil
}

// nodeLabels reads the labels of this node; a missing node has none.
func (p *Plugin) nodeLabels(ctx context.Context) (map[string]string, error) {
	node, err := p.Cluster.NodeMeta(ctx, p.Node)
	if err != nil || node == nil {
		return nil, err
	}
	return node.Labels, nil
}

// readPool reads a pool into in; mu guards in.pools against the other
// reads running beside it.
func (p *Plugin) readPool(ctx context.Context, name string, in *inputs, mu *sync.Mutex) error {
	pool, err := p.Cluster.Pool(ctx, name)
	if err != nil {
		return err
	}
	mu.Lock()
	in.pools[name] = pool
	mu.Unlock()
	return nil
}

// plan chooses the pools of each family and attaches the addresses the pod
// asked for. Pools named by an annotation but not configured are read here.
func (p *Plugin) plan(ctx context.Context, pod podArgs, in *inputs) ([]poolchoice.Family, error) {
	network := p.Config.Network.Name
	if err := poolchoice.CheckAnnotations(network, in.podAnnotations); err != nil {
		return nil, err
	}
	choice, err := poolchoice.Names(network, in.podAnnotations, in.namespaceAnnotations, p.Config.IPAM.Pools)
	if err != nil {
		return nil, err
	}
	runtimeIPs, runtimeSource, err := p.Config.StaticIPs()
	if err != nil {
		return nil, ipamerr.New(poolchoice.ErrBadAnnotation, "%v", err)
	}
	statics, err := poolchoice.RequestedAddresses(network, runtimeIPs, runtimeSource, in.podAnnotations)
	if err != nil {
		return nil, err
	}
	if err := p.readUnreadPools(ctx, choice.Names, in); err != nil {
		return nil, err
	}
	if err := p.readNodeLabels(ctx, choice.Names, in); err != nil {
		return nil, err
	}
	families, err := poolchoice.Choose(choice, in.pools, poolchoice.Placement{
		Node: p.Node, NodeLabels: in.nodeLabels, Namespace: pod.Namespace, NamespaceLabels: in.namespaceLabels,
	})
	if err != nil {
		return nil, err
	}
	return poolchoice.Pin(families, statics, choice.Source)
}

// readNodeLabels reads the node's labels when one of the named pools has a
// nodeSelector; most pools select every node, and their ADDs skip the read.
func (p *Plugin) readNodeLabels(ctx context.Context, names []string, in *inputs) error {
	for _, name := range names {
		if pool := in.pools[name]; pool != nil && pool.Spec.NodeSelector != nil {
			var err error
			in.nodeLabels, err = p.nodeLabels(ctx)
			return err
		}
	}
	return nil
}

// owner describes the container interface the claims are for.
func (p *Plugin) owner(args *skel.CmdArgs, pod podArgs, in *inputs) ipamv1alpha1.ClaimOwner {
	owner := ipamv1alpha1.ClaimOwner{ContainerID: args.ContainerID, Interface: args.IfName, Network: p.Config.Network.Name}
	if pod.isKubernetes() {
		owner.Namespace, owner.Name, owner.UID = pod.Namespace, pod.Name, in.podUID
		owner.Pod = pod.Namespace + "/" + pod.Name
	}
	return owner
}

// poolNames returns the names of the chosen pools.
func poolNames(families []poolchoice.Family) []string {
	var names []string
	for _, pool := range chosenPools(families) {
		names = append(names, pool.Name)
	}
	return names
}

// allocate lists the node's claims once, under the node's lock on every
// pool it may use, and lets the allocator create what is missing. When h
// does not hold all those locks (an annotation chose pools the
// configuration does not name), it releases h and takes them.
func (p *Plugin) allocate(ctx context.Context, state *nodestate.Dir, h *held, families []poolchoice.Family, owner ipamv1alpha1.ClaimOwner, pools map[string]*ipamv1alpha1.IPPool) ([]*ipamv1alpha1.IPClaim, error) {
	names := poolNames(families)
	if !h.covers(names) {
		h.release()
		var err error
		if h, err = p.hold(ctx, state, names); err != nil {
			return nil, err
		}
		defer h.release()
	}
	states := h.states(state, names)
	nodeClaims, err := p.nodeClaims(ctx, state, h.early, pools, nodestate.NewestResourceVersion(trusted(states, families)...))
	if err != nil {
		return nil, err
	}
	if forgetUnreached(state, p.Cluster.Reached()) {
		states = poolStates(state, names)
	}
	reqs, err := requests(families, owner, nodeClaims, states)
	if err != nil {
		return nil, err
	}
	recorded := &storeRecorder{Store: p.Cluster}
	claims, err := (&allocator.Allocator{Store: recorded, Node: p.Node}).AllocateAll(ctx, reqs)
	saveStates(state, states, families, claims, recorded)
	return claims, err
}

// requests builds the allocator's requests, per family in pool order.
func requests(families []poolchoice.Family, owner ipamv1alpha1.ClaimOwner, nodeClaims []ipamv1alpha1.IPClaim, states map[string]nodestate.PoolState) ([][]allocator.Request, error) {
	out := make([][]allocator.Request, 0, len(families))
	for _, f := range families {
		var reqs []allocator.Request
		for _, pool := range f.Pools {
			layout, err := pool.Spec.Layout()
			if err != nil {
				return nil, ipamerr.New(poolchoice.ErrPoolUnavailable, "pool %s cannot be used: %v", pool.Name, err)
			}
			reqs = append(reqs, allocator.Request{
				Pool: pool, Layout: layout, Owner: owner,
				Address: f.Requested, RequestedBy: f.RequestedBy, SamePodAdvice: f.SamePodAdvice,
				Cursor: states[pool.Name].Cursor, NodeClaims: nodeClaims,
			})
		}
		out = append(out, reqs)
	}
	return out, nil
}
