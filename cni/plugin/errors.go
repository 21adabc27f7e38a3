package plugin

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
	"github.com/ipkeeper/ipkeeper/cni/poolchoice"
)

// codes gives every reason the pool choice or the allocator fails for good
// its CNI error code. The runtime and the people reading its events act on
// the code; the packages that decide know nothing of CNI.
var codes = map[error]uint{
	poolchoice.ErrNoPools:              types.ErrInvalidNetworkConfig,
	poolchoice.ErrPoolMissing:          cnierr.PoolUnavailable,
	poolchoice.ErrPoolUnavailable:      cnierr.PoolUnavailable,
	poolchoice.ErrNodeNotSelected:      cnierr.NodeNotSelected,
	poolchoice.ErrNamespaceNotSelected: cnierr.NamespaceNotSelected,
	poolchoice.ErrBadAnnotation:        cnierr.BadAnnotation,
	allocator.ErrExhausted:             cnierr.PoolExhausted,
	allocator.ErrAddressHeld:           cnierr.AddressHeld,
	allocator.ErrAddressUnusable:       cnierr.BadAnnotation,
}

// asCNIError returns err, the failure of verb, as the CNI error the runtime
// acts on. A CNI error passes through. A failure of the pool choice or of
// the allocator keeps its message, which says what to do, and takes its
// code from codes. Anything else failed talking to the API server: cnierr
// tells what is worth retrying (11) from what is not, and the message
// starts with verb.
func asCNIError(verb string, err error) error {
	if err == nil {
		return nil
	}
	var cniErr *types.Error
	var ipamErr *ipamerr.Error
	switch {
	case errors.As(err, &cniErr):
		return cniErr
	case errors.As(err, &ipamErr):
		return types.NewError(codeOf(ipamErr.Kind), ipamErr.Error(), "")
	case errors.Is(err, context.DeadlineExceeded):
		return cnierr.FromAPI(verb+" (timed out; raise ipam.timeout if the API server is slow)", err)
	}
	return cnierr.FromAPI(verb, err)
}

// codeOf returns the code of kind; a kind without one is a bug, reported
// as an internal error rather than as success (code 0).
func codeOf(kind error) uint {
	if code, ok := codes[kind]; ok {
		return code
	}
	return types.ErrInternal
}
