package poolchoice

import "errors"

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
