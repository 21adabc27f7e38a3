package plugin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
	"github.com/ipkeeper/ipkeeper/cni/poolchoice"
)

func TestAsCNIError(t *testing.T) {
	_, noPools := poolchoice.Names("net", nil, nil, nil)
	down := apierrors.NewServiceUnavailable("etcd is down")
	tests := []struct {
		name     string
		err      error
		wantCode uint
		wantMsg  string
	}{
		{name: "no error"},
		{name: "the choice's message, without what wraps it", err: fmt.Errorf("plan: %w", noPools),
			wantCode: types.ErrInvalidNetworkConfig,
			wantMsg:  "no pool to allocate from: set ipam.pools in the CNI configuration or annotate the pod or namespace with ipam.ipkeeper.dev/pools"},
		{name: "pool missing", err: &ipamerr.Error{Kind: poolchoice.ErrPoolMissing}, wantCode: cnierr.PoolUnavailable},
		{name: "pool unavailable", err: &ipamerr.Error{Kind: poolchoice.ErrPoolUnavailable}, wantCode: cnierr.PoolUnavailable},
		{name: "node not selected", err: &ipamerr.Error{Kind: poolchoice.ErrNodeNotSelected}, wantCode: cnierr.NodeNotSelected},
		{name: "namespace not selected", err: &ipamerr.Error{Kind: poolchoice.ErrNamespaceNotSelected}, wantCode: cnierr.NamespaceNotSelected},
		{name: "bad annotation", err: &ipamerr.Error{Kind: poolchoice.ErrBadAnnotation}, wantCode: cnierr.BadAnnotation},
		{name: "exhausted", err: &ipamerr.Error{Kind: allocator.ErrExhausted}, wantCode: cnierr.PoolExhausted},
		{name: "address held", err: &ipamerr.Error{Kind: allocator.ErrAddressHeld}, wantCode: cnierr.AddressHeld},
		{name: "address unusable", err: &ipamerr.Error{Kind: allocator.ErrAddressUnusable}, wantCode: cnierr.BadAnnotation},
		{name: "a family exhausted beside an API error: the decision wins",
			err:      errors.Join(down, fmt.Errorf("allocate: %w", &ipamerr.Error{Kind: allocator.ErrExhausted})),
			wantCode: cnierr.PoolExhausted},
		{name: "a kind without a code is a bug, never success", err: &ipamerr.Error{Kind: errors.New("new kind")},
			wantCode: types.ErrInternal},
		{name: "a CNI error passes through", err: fmt.Errorf("read: %w", types.NewError(types.ErrTryAgainLater, "pod x/y does not exist", "")),
			wantCode: types.ErrTryAgainLater, wantMsg: "pod x/y does not exist"},
		{name: "an API server that cannot answer", err: down, wantCode: types.ErrTryAgainLater, wantMsg: "verb: etcd is down"},
		{name: "a call that timed out", err: fmt.Errorf("list: %w", context.DeadlineExceeded), wantCode: types.ErrTryAgainLater,
			wantMsg: "verb (timed out; raise ipam.timeout if the API server is slow): list: context deadline exceeded"},
		{name: "anything else", err: errors.New("boom"), wantCode: types.ErrInternal, wantMsg: "verb: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipamtest.ExpectExactCNIError(t, asCNIError("verb", tt.err), tt.wantCode, tt.wantMsg)
		})
	}
}
