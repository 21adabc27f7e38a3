package poolchoice

import (
	"errors"
	"fmt"
)

// Why no pool can serve the pod. Test for them with errors.Is; the plugin
// gives each its CNI error code.
var (
	// ErrNoPools: neither the pod, its namespace nor the configuration
	// names a pool.
	ErrNoPools = errors.New("no pool named")
	// ErrPoolMissing: a named pool does not exist.
	ErrPoolMissing = errors.New("pool does not exist")
	// ErrPoolUnavailable: a pool is disabled, being deleted, not Ready, or
	// its spec cannot be used.
	ErrPoolUnavailable = errors.New("pool unavailable")
	// ErrNodeNotSelected: a pool's nodeSelector does not select this node.
	ErrNodeNotSelected = errors.New("node not selected")
	// ErrNamespaceNotSelected: a pool's namespaceSelector does not select
	// the pod's namespace, or the caller is no Kubernetes pod.
	ErrNamespaceNotSelected = errors.New("namespace not selected")
	// ErrBadAnnotation: an ipam.ipkeeper.dev annotation, or a static
	// address asked for in the configuration, cannot be used.
	ErrBadAnnotation = errors.New("bad annotation")
)

// Error is a choice that failed for one of the reasons above, with a
// message that says what to do about it. errors.Is matches its Kind.
type Error struct {
	// Kind is one of the Err values of this package.
	Kind error
	msg  string
}

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Error returns the message, which names the pool or annotation and what
// to do.
func (e *Error) Error() string { return e.msg }

// Unwrap returns Kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }
