package allocator

import (
	"errors"
	"fmt"
)

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

// Error is an allocation that failed for one of the reasons above, with a
// message that says what to do about it. errors.Is matches its Kind.
type Error struct {
	// Kind is ErrExhausted, ErrAddressHeld or ErrAddressUnusable.
	Kind error
	msg  string
}

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Error returns the message, which names the pool or address and what to do.
func (e *Error) Error() string { return e.msg }

// Unwrap returns Kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }
