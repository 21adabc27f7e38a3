package allocator

import "errors"

// Why an allocation failed for good: retrying will not help until someone
// changes the pool or its claims. Test for them with errors.Is; the plugin
// gives each its CNI error code.
var (
	// ErrExhausted: the pool has no free address for this node (with
	// strictAffinity: none in the node's blocks and no free block). The
	// next pool of the family is tried.
	ErrExhausted = errors.New("pool exhausted")
	// ErrAddressHeld: the exact address asked for is held by another
	// container.
	ErrAddressHeld = errors.New("address held by another container")
	// ErrAddressUnusable: the exact address asked for is outside the pool,
	// excluded, its gateway, or a network or broadcast address.
	ErrAddressUnusable = errors.New("address not usable")
)
