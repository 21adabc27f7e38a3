// Package allocator reserves addresses by creating IPClaims. It is pure
// logic: every read and write goes through the small Store interface, whose
// production implementation talks to the API server (package
// cni/apiserver)
// and whose in-memory Fake drives the unit tests.
//
// Correctness never depends on what the allocator reads: the API server's
// name uniqueness arbitrates every create. Reads only make the first create
// likely to succeed.
package allocator

import (
	"context"
	"errors"
	"net/netip"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// ErrAlreadyExists is returned (wrapped) by Store.Create when a claim of the
// same name exists: someone else holds the address or block.
var ErrAlreadyExists = errors.New("claim already exists")

// ErrNotFound is returned (wrapped) by Store.Get for a claim that does not
// exist.
var ErrNotFound = errors.New("claim not found")

// Store is what the allocator needs of the claim storage. The node's own
// claims come with the Request: the caller lists them once per ADD.
type Store interface {
	// PoolBlocks returns every block claimed in pool, with the value of its
	// node label (ipamv1alpha1.LabelValue of the node that claimed it). Only
	// needed when a node's blocks are full.
	PoolBlocks(ctx context.Context, pool string) (map[netip.Prefix]string, error)
	// BlockAddresses returns every address claimed inside block, by any
	// node and in any pool: the Address claims labelled with the block.
	// Only needed when no block is free and the node borrows, one block at
	// a time, so that a borrowing ADD never reads every claim of the pool.
	BlockAddresses(ctx context.Context, block netip.Prefix) ([]netip.Addr, error)
	// Get returns the claim called name.
	Get(ctx context.Context, name string) (*ipamv1alpha1.IPClaim, error)
	// Create creates claim, filling in its UID.
	Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error
	// Delete deletes claim unless its UID changed (the address was
	// released and claimed again meanwhile); a claim already gone is no
	// error.
	Delete(ctx context.Context, claim *ipamv1alpha1.IPClaim) error
}
