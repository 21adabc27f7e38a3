package allocator

import (
	"context"
	"errors"
	"hash/fnv"
	"iter"
	"net/netip"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// Allocator reserves addresses for one node.
type Allocator struct {
	Store Store
	// Node is the name of the node the allocator runs on.
	Node string
}

// Request asks for one address of one pool for one pod interface.
type Request struct {
	Pool   *ipamv1alpha1.IPPool
	Layout ipspace.Layout
	Owner  ipamv1alpha1.ClaimOwner
	// Address, when valid, is the exact address the pod asked for, and
	// RequestedBy where it asked, for the messages ("annotation
	// ipam.ipkeeper.dev/ips", "runtimeConfig.ips"; the plain annotation
	// when empty).
	Address     netip.Addr
	RequestedBy string
	// SamePodAdvice, when set, is what to do when another interface of the
	// same pod holds Address: the source asked for it on every network.
	SamePodAdvice string
	// Cursor is the last address this node handed out from the pool; the
	// search for a free address starts after it.
	Cursor netip.Addr
	// NodeClaims are the node's claims (blocks and addresses of every
	// pool), listed while the node held its lock on the pool.
	NodeClaims []ipamv1alpha1.IPClaim
}

// maxNewBlocks bounds how many blocks one allocation claims. A new block
// can hold no free address when borrowers or exact requests took them all
// while it was unclaimed; the next block is tried then, but a pool in that
// state is nearly full and a few tries are enough.
const maxNewBlocks = 4

// Allocate creates an Address claim for req and returns it. It takes, in
// order: the exact address asked for; a free address in the node's blocks;
// a free address in a block the node claims now; and, unless the pool has
// strictAffinity, a single free address in a block of another node.
func (a *Allocator) Allocate(ctx context.Context, req Request) (*ipamv1alpha1.IPClaim, error) {
	claim, _, err := a.allocate(ctx, req)
	return claim, err
}

// allocate is Allocate, also reporting whether the claim was created now
// (false when an earlier ADD of the same interface holds it), so that a
// rollback deletes only what this ADD created.
func (a *Allocator) allocate(ctx context.Context, req Request) (*ipamv1alpha1.IPClaim, bool, error) {
	if req.Address.IsValid() {
		return a.allocateExact(ctx, req)
	}
	blocks, held := nodeBlocks(req, a.Node)
	claim, err := a.createFirst(ctx, req, roundRobin(req.Layout, blocks, held, req.Cursor))
	if claim == nil && err == nil {
		claim, err = a.allocateInNewBlock(ctx, req, blocks)
	}
	if claim == nil && err == nil {
		if req.Pool.Spec.StrictAffinity {
			return nil, false, a.blocksExhausted(ctx, req)
		}
		claim, err = a.borrow(ctx, req, blocks)
	}
	return claim, claim != nil, err
}

// nodeBlocks returns the node's blocks of the pool, sorted, and the
// addresses the node holds in the pool.
func nodeBlocks(req Request, node string) ([]netip.Prefix, map[netip.Addr]bool) {
	var blocks []netip.Prefix
	held := make(map[netip.Addr]bool, len(req.NodeClaims))
	for _, c := range req.NodeClaims {
		if c.Spec.Pool != req.Pool.Name {
			continue
		}
		switch c.Spec.Type {
		case ipamv1alpha1.ClaimTypeBlock:
			// The list is by node label; a block whose label lies about its
			// node is not this node's to allocate in.
			if p, err := netip.ParsePrefix(c.Spec.CIDR); err == nil && c.Spec.Node == node && req.Layout.CheckBlock(p) == nil {
				blocks = append(blocks, p)
			}
		case ipamv1alpha1.ClaimTypeAddress:
			if addr, err := netip.ParseAddr(c.Spec.Address); err == nil {
				held[addr] = true
			}
		}
	}
	slices.SortFunc(blocks, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return blocks, held
}

// createFirst creates a claim for the first candidate nobody holds. It
// returns nil, nil when every candidate is held.
func (a *Allocator) createFirst(ctx context.Context, req Request, candidates iter.Seq[netip.Addr]) (*ipamv1alpha1.IPClaim, error) {
	for addr := range candidates {
		claim := a.addressClaim(req, addr)
		err := a.Store.Create(ctx, claim)
		if err == nil {
			return claim, nil
		}
		if !errors.Is(err, ErrAlreadyExists) {
			return nil, err
		}
		// Someone else won the address (a borrower, or an exact request):
		// the create arbitrated, take the next one.
	}
	return nil, nil
}

// allocateInNewBlock allocates in a block the node owns but did not list
// (claimed by an earlier ADD that failed afterwards), else claims a free
// block and allocates in it, trying the next block when one holds no free
// address. It returns nil, nil when no block is free. The search starts at
// a place that depends on the node's name, so that nodes claiming at the
// same moment seldom race.
func (a *Allocator) allocateInNewBlock(ctx context.Context, req Request, own []netip.Prefix) (*ipamv1alpha1.IPClaim, error) {
	claimed, err := a.Store.PoolBlocks(ctx, req.Pool.Name)
	if err != nil {
		return nil, err
	}
	taken := map[netip.Prefix]bool{}
	var unlisted []netip.Prefix
	for p, node := range claimed {
		taken[p] = true
		if node == ipamv1alpha1.LabelValue(a.Node) && !slices.Contains(own, p) && req.Layout.CheckBlock(p) == nil {
			unlisted = append(unlisted, p)
		}
	}
	slices.SortFunc(unlisted, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	claim, err := a.createFirst(ctx, req, roundRobin(req.Layout, unlisted, nil, netip.Addr{}))
	if claim != nil || err != nil {
		return claim, err
	}
	for _, p := range own {
		taken[p] = true
	}
	start := req.Layout.BlockAt(nodeHash(a.Node)).Addr()
	for range maxNewBlocks {
		block, err := a.claimBlock(ctx, req, taken, start)
		if err != nil || !block.IsValid() {
			return nil, err
		}
		taken[block] = true
		claim, err := a.createFirst(ctx, req, roundRobin(req.Layout, []netip.Prefix{block}, nil, netip.Addr{}))
		if claim != nil || err != nil {
			return claim, err
		}
	}
	return nil, nil
}

// claimBlock claims the first block from start on that is not taken. A
// block another node won a moment ago is marked taken and passed over; one
// this node claimed before (an earlier ADD that failed after claiming it)
// is the node's own and is used.
func (a *Allocator) claimBlock(ctx context.Context, req Request, taken map[netip.Prefix]bool, start netip.Addr) (netip.Prefix, error) {
	for {
		block, ok := req.Layout.NextFreeBlock(start, func(p netip.Prefix) bool { return taken[p] })
		if !ok {
			return netip.Prefix{}, nil
		}
		claim := a.blockClaim(req, block)
		err := a.Store.Create(ctx, claim)
		if err == nil {
			return block, nil
		}
		if !errors.Is(err, ErrAlreadyExists) {
			return netip.Prefix{}, err
		}
		holder, err := a.Store.Get(ctx, claim.Name)
		switch {
		case err == nil && holder.Spec.Node == a.Node && holder.Spec.Pool == req.Pool.Name:
			return block, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return netip.Prefix{}, err
		}
		taken[block] = true
	}
}

// maxBorrowBlocks bounds how many blocks one ADD reads when it borrows:
// each costs a request, and a pool in which that many blocks in a row hold
// no free address is as good as exhausted for this node (docs/design.md).
const maxBorrowBlocks = 16

// borrow creates a claim for a single free address in a block of another
// node. It reads the Address claims of one block at a time (by block
// label), never the pool's, starting at the block of the node's cursor when
// that lies outside the node's blocks (its last borrowed address, or where
// its last search gave up), else at the node's own place in the pool, and
// gives up after maxBorrowBlocks blocks. own are the node's blocks, which
// are full.
func (a *Allocator) borrow(ctx context.Context, req Request, own []netip.Prefix) (*ipamv1alpha1.IPClaim, error) {
	skip := make(map[netip.Prefix]bool, len(own)+maxBorrowBlocks)
	for _, p := range own {
		skip[p] = true
	}
	start := req.Layout.BlockAt(nodeHash(a.Node)).Addr()
	if req.Layout.Prefix().Contains(req.Cursor) && !skip[req.Layout.BlockOf(req.Cursor)] {
		start = req.Cursor
	}
	for looked := 0; ; looked++ {
		block, ok := req.Layout.NextFreeBlock(start, func(p netip.Prefix) bool { return skip[p] })
		if !ok {
			return nil, exhausted(req)
		}
		if looked == maxBorrowBlocks {
			return nil, ipamerr.New(ErrExhausted,
				"pool %s has no free block, and no free address in the blocks of node %s or in the %d blocks of other nodes it looked at (of %s in the pool); its next ADD looks at the blocks after them, and the pool's status says how many addresses are free: add a pool or free addresses",
				req.Pool.Name, a.Node, maxBorrowBlocks, req.Layout.BlockCapacity())
		}
		skip[block] = true
		held, err := a.heldIn(ctx, block)
		if err != nil {
			return nil, err
		}
		claim, err := a.createFirst(ctx, req, roundRobin(req.Layout, []netip.Prefix{block}, held, req.Cursor))
		if claim != nil || err != nil {
			return claim, err
		}
	}
}

// heldIn returns the addresses claimed inside block, by any node.
func (a *Allocator) heldIn(ctx context.Context, block netip.Prefix) (map[netip.Addr]bool, error) {
	addresses, err := a.Store.BlockAddresses(ctx, block)
	if err != nil {
		return nil, err
	}
	held := make(map[netip.Addr]bool, len(addresses))
	for _, addr := range addresses {
		held[addr] = true
	}
	return held, nil
}

// blocksExhausted explains why a node of a strictAffinity pool gets nothing.
func (a *Allocator) blocksExhausted(ctx context.Context, req Request) error {
	claimed, err := a.Store.PoolBlocks(ctx, req.Pool.Name)
	if err != nil {
		return err
	}
	return ipamerr.New(ErrExhausted,
		"pool %s has no free address in the blocks of node %s and no free block (%d/%s blocks claimed); strictAffinity forbids borrowing from other nodes' blocks: add a pool or free addresses",
		req.Pool.Name, a.Node, len(claimed), req.Layout.BlockCapacity())
}

// exhausted is the error of a pool with no free address at all: every
// block was looked at, and every usable address is held.
func exhausted(req Request) error {
	capacity := req.Layout.Capacity()
	return ipamerr.New(ErrExhausted, "pool %s is exhausted (%s/%s in use): add a pool or free addresses",
		req.Pool.Name, capacity, capacity)
}

// allocateExact creates the claim for the address the pod asked for. A
// claim of this container for that address counts as success (not created
// now): the runtime may repeat an ADD.
func (a *Allocator) allocateExact(ctx context.Context, req Request) (*ipamv1alpha1.IPClaim, bool, error) {
	source := req.RequestedBy
	if source == "" {
		source = "annotation " + ipamv1alpha1.AnnotationIPs
	}
	if why := req.Layout.WhyUnusable(req.Address); why != "" {
		return nil, false, ipamerr.New(ErrAddressUnusable, "address %s asked for in %s is %s: ask for a usable address of pool %s",
			req.Address, source, why, req.Pool.Name)
	}
	claim := a.addressClaim(req, req.Address)
	err := a.Store.Create(ctx, claim)
	if err == nil {
		return claim, true, nil
	}
	if !errors.Is(err, ErrAlreadyExists) {
		return nil, false, err
	}
	holder, err := a.Store.Get(ctx, claim.Name)
	if err != nil {
		return nil, false, err
	}
	if SameOwner(holder, req.Owner) {
		return holder, false, nil
	}
	if o := holder.Spec.Owner; req.SamePodAdvice != "" && samePod(o, req.Owner) {
		return nil, false, ipamerr.New(ErrAddressHeld, "address %s asked for in %s is held by interface %s of the same pod, on network %s: %s",
			req.Address, source, o.Interface, o.Network, req.SamePodAdvice)
	}
	return nil, false, ipamerr.New(ErrAddressHeld, "address %s asked for in %s is held by %s: ask for another address or release it first",
		req.Address, source, holder.Holder())
}

// samePod reports whether held, the owner of a claim, is another interface
// of owner's pod: the same pod UID, or the same sandbox.
func samePod(held *ipamv1alpha1.ClaimOwner, owner ipamv1alpha1.ClaimOwner) bool {
	return held != nil && ((held.UID != "" && held.UID == owner.UID) || held.ContainerID == owner.ContainerID)
}

// SameOwner reports whether claim belongs to owner's container interface.
func SameOwner(claim *ipamv1alpha1.IPClaim, owner ipamv1alpha1.ClaimOwner) bool {
	o := claim.Spec.Owner
	return o != nil && o.ContainerID == owner.ContainerID && o.Interface == owner.Interface
}

// addressClaim builds the Address claim of addr for req.
func (a *Allocator) addressClaim(req Request, addr netip.Addr) *ipamv1alpha1.IPClaim {
	owner := req.Owner
	return &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ipspace.AddressClaimName(addr),
			Labels: ipamv1alpha1.ClaimLabels(req.Pool.Name, a.Node, ipspace.BlockClaimName(req.Layout.BlockOf(addr))),
		},
		Spec: ipamv1alpha1.IPClaimSpec{
			Pool:    req.Pool.Name,
			Type:    ipamv1alpha1.ClaimTypeAddress,
			Node:    a.Node,
			Address: addr.String(),
			Owner:   &owner,
		},
	}
}

// blockClaim builds the Block claim of block for req.
func (a *Allocator) blockClaim(req Request, block netip.Prefix) *ipamv1alpha1.IPClaim {
	return &ipamv1alpha1.IPClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ipspace.BlockClaimName(block),
			Labels: ipamv1alpha1.ClaimLabels(req.Pool.Name, a.Node, ""),
		},
		Spec: ipamv1alpha1.IPClaimSpec{
			Pool: req.Pool.Name,
			Type: ipamv1alpha1.ClaimTypeBlock,
			Node: a.Node,
			CIDR: block.String(),
		},
	}
}

// nodeHash spreads nodes over a pool's blocks.
func nodeHash(node string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node))
	return h.Sum64()
}
