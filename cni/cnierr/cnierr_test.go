package cnierr

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestFromAPI(t *testing.T) {
	claims := schema.GroupResource{Group: "ipam.ipkeeper.dev", Resource: "ipclaims"}
	tests := []struct {
		name string
		err  error
		want uint
	}{
		{name: "deadline", err: fmt.Errorf("list: %w", context.DeadlineExceeded), want: types.ErrTryAgainLater},
		{name: "throttled", err: apierrors.NewTooManyRequests("slow down", 1), want: types.ErrTryAgainLater},
		{name: "server timeout", err: apierrors.NewServerTimeout(claims, "create", 1), want: types.ErrTryAgainLater},
		{name: "unavailable", err: apierrors.NewServiceUnavailable("etcd"), want: types.ErrTryAgainLater},
		{name: "webhook down", err: apierrors.NewInternalError(errors.New(`failed calling webhook "vipclaim.ipam.ipkeeper.dev": connection refused`)), want: types.ErrTryAgainLater},
		{name: "refused connection", err: errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), want: types.ErrTryAgainLater},
		{name: "invalid", err: apierrors.NewInvalid(schema.GroupKind{Kind: "IPClaim"}, "x", nil), want: Denied},
		{name: "forbidden", err: apierrors.NewForbidden(claims, "x", errors.New("no")), want: Denied},
		{name: "other", err: errors.New("boom"), want: types.ErrInternal},
		{name: "untrusted server", err: &url.Error{Op: "Get", URL: "https://10.0.0.1:6443", Err: x509.UnknownAuthorityError{}}, want: types.ErrInvalidNetworkConfig},
		{name: "wrong host", err: &url.Error{Op: "Get", URL: "https://10.0.0.1:6443", Err: x509.HostnameError{Host: "10.0.0.1"}}, want: types.ErrInvalidNetworkConfig},
		{name: "CNI error passes", err: fmt.Errorf("wrapped: %w", New(PoolExhausted, "full")), want: PoolExhausted},
	}
	for _, tt := range tests {
		if got := FromAPI("create claim", tt.err); got.Code != tt.want {
			t.Errorf("%s: code %d (%s), want %d", tt.name, got.Code, got.Msg, tt.want)
		}
	}
}
