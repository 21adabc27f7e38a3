// Package cnierr holds the CNI error codes ipkeeper returns and turns Go
// errors into CNI errors. The runtime reads the code to decide what to do:
// 11 means "try again later"; every other code means the request itself
// cannot succeed until someone changes something.
package cnierr

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Plugin error codes (the CNI specification reserves 100 and up for them).
const (
	// PoolExhausted: the pool has no free address (or, with strictAffinity,
	// no free block) for this node.
	PoolExhausted uint = 100
	// NodeNotSelected: the pool's nodeSelector does not select this node.
	NodeNotSelected uint = 101
	// AddressHeld: an address the pod asked for is held by another pod.
	AddressHeld uint = 102
	// PoolUnavailable: the pool does not exist, is disabled, is being
	// deleted, or is not Ready.
	PoolUnavailable uint = 103
	// BadAnnotation: an ipam.ipkeeper.dev annotation, or a static address
	// asked for in runtimeConfig.ips or args.cni.ips, cannot be used.
	BadAnnotation uint = 104
	// ClaimMismatch: CHECK found a reservation missing or held by another
	// container.
	ClaimMismatch uint = 105
	// Denied: the API server refused a claim (admission or validation) for
	// a reason that retrying will not fix.
	Denied uint = 106
	// NamespaceNotSelected: the pool's namespaceSelector does not select
	// the pod's namespace, or the caller is no Kubernetes pod.
	NamespaceNotSelected uint = 107
)

// New returns a CNI error with code and a formatted message.
func New(code uint, format string, args ...any) *types.Error {
	return types.NewError(code, fmt.Sprintf(format, args...), "")
}

// BadConfig returns CNI error 7 (invalid network configuration).
func BadConfig(err error) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, err.Error(), "")
}

// FromAPI turns an error of a call to the API server into a CNI error, so
// that the runtime retries exactly what may succeed later: timeouts,
// throttling, an unreachable API server and an unavailable webhook are 11
// (try again later); a refusal is 106; a CNI error passes through.
func FromAPI(verb string, err error) *types.Error {
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return cniErr
	}
	msg := fmt.Sprintf("%s: %v", verb, err)
	switch {
	case untrusted(err):
		return types.NewError(types.ErrInvalidNetworkConfig, msg, "the API server's certificate is not trusted: check the cluster's certificate authority in ipam.kubeconfig")
	case Retryable(err):
		return types.NewError(types.ErrTryAgainLater, msg, "the API server or its admission webhook did not answer in time; the runtime retries")
	case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err):
		return types.NewError(Denied, msg, "")
	}
	return types.NewError(types.ErrInternal, msg, "")
}

// untrusted reports whether err is a failed check of the API server's
// certificate: retrying will not fix a kubeconfig with the wrong authority.
func untrusted(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	return errors.As(err, &unknownAuthority) || errors.As(err, &invalid) || errors.As(err, &hostname)
}

// Retryable reports whether err is worth retrying later: the API server or
// an admission webhook was unreachable, slow, throttling or failing inside.
func Retryable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	case apierrors.IsInternalError(err):
		// An unreachable webhook ("failed calling webhook"), a webhook whose
		// cache has not synced, etcd trouble: all pass.
		return true
	case errors.As(err, &netErr):
		return true
	}
	return strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host")
}
