package webhooks

import (
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Reasons for a denial: the values of the reason label of
// ipkeeper_webhook_denials_total. Each field error carries its reason as its
// Origin, so that the metric and the tests see which rule refused a request
// without parsing messages. The set is small and fixed so that the metric's
// cardinality is too.
const (
	// reasonInvalidSpec: a field is malformed, of the wrong family or outside
	// the pool.
	reasonInvalidSpec = "InvalidSpec"
	// reasonOverlap: a new pool shares addresses with an existing one.
	reasonOverlap = "Overlap"
	// reasonImmutable: an update changes a field that never changes.
	reasonImmutable = "Immutable"
	// reasonClaimedAddress: a pool update excludes, or makes the gateway, an
	// address that a claim holds.
	reasonClaimedAddress = "ClaimedAddress"
	// reasonPoolMissing: a claim names a pool that does not exist.
	reasonPoolMissing = "PoolMissing"
	// reasonPoolUnavailable: a claim names a disabled, terminating or broken
	// pool.
	reasonPoolUnavailable = "PoolUnavailable"
	// reasonOutsidePool: a claim's address or block is not in its pool.
	reasonOutsidePool = "OutsidePool"
	// reasonUnusable: a claim's address is excluded, the gateway, or a
	// network, broadcast or subnet-router address.
	reasonUnusable = "Unusable"
	// reasonMisaligned: a block claim has the wrong size or alignment.
	reasonMisaligned = "Misaligned"
	// reasonDuplicate: the pod interface already holds an address of the pool.
	reasonDuplicate = "Duplicate"
	// reasonLabels: an ipkeeper label disagrees with the spec or changes.
	reasonLabels = "Labels"
	// reasonNamespaceNotSelected: a claim's owner namespace is not selected
	// by its pool's namespaceSelector.
	reasonNamespaceNotSelected = "NamespaceNotSelected"
)

var (
	poolKind  = ipamv1alpha1.GroupVersion.WithKind("IPPool").GroupKind()
	claimKind = ipamv1alpha1.GroupVersion.WithKind("IPClaim").GroupKind()

	// reasonsByKind lists every reason each validator can give, so that
	// every series exists (at zero) from the start and rate() works on the
	// first denial.
	reasonsByKind = map[schema.GroupKind][]string{
		poolKind: {reasonInvalidSpec, reasonOverlap, reasonImmutable, reasonClaimedAddress},
		claimKind: {reasonInvalidSpec, reasonImmutable, reasonPoolMissing, reasonPoolUnavailable, reasonOutsidePool,
			reasonUnusable, reasonMisaligned, reasonDuplicate, reasonLabels, reasonNamespaceNotSelected},
	}

	denials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipkeeper_webhook_denials_total",
		Help: "Admission requests the ipkeeper webhooks denied, by kind and reason; a request denied for several reasons counts once for each.",
	}, []string{"kind", "reason"})
)

func init() {
	metrics.Registry.MustRegister(denials)
	for kind, reasons := range reasonsByKind {
		for _, reason := range reasons {
			denials.WithLabelValues(kind.Kind, reason)
		}
	}
}

// denied turns the field errors of a validation into the admission answer
// and counts the denial. A failed cache read is a server error (500), not a
// denial: the client should try again, and nothing is counted.
func denied(kind schema.GroupKind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs {
		if e.Type == field.ErrorTypeInternal {
			return apierrors.NewInternalError(errs.ToAggregate())
		}
	}
	counted := make(map[string]bool, len(errs))
	for _, e := range errs {
		reason := e.Origin
		if reason == "" {
			reason = reasonInvalidSpec
		}
		if !counted[reason] {
			counted[reason] = true
			denials.WithLabelValues(kind.Kind, reason).Inc()
		}
	}
	return apierrors.NewInvalid(kind, name, errs)
}
