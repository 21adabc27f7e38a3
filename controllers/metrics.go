package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// Pool gauges mirror IPPool status so that fill levels can be graphed and
// alerted on without polling the API server. Counts are exact in status; a
// gauge is a float64, which is exact up to 2^53 and close enough above.
var (
	poolCapacity = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ipkeeper_pool_capacity",
		Help: "Usable addresses of the pool: its cidr minus exclusions, gateway and reserved addresses.",
	}, []string{"pool"})
	poolAllocated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ipkeeper_pool_allocated",
		Help: "Usable addresses of the pool held by Address claims.",
	}, []string{"pool"})
	poolFree = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ipkeeper_pool_free",
		Help: "Usable addresses of the pool that no claim holds.",
	}, []string{"pool"})
	poolBlocks = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ipkeeper_pool_blocks",
		Help: "Node blocks of the pool held by Block claims.",
	}, []string{"pool"})
	poolInvalidClaims = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ipkeeper_pool_invalid_claims",
		Help: "Claims of the pool marked Invalid: they break a rule of the pool and need a person to look at them.",
	}, []string{"pool"})
)

// claimsInvalid counts, by reason, the claims the operator found breaking a
// rule of their pool, so that an alert can fire on the first one.
var claimsInvalid = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "ipkeeper_claims_invalid_total",
	Help: "Claims the operator marked Invalid, by reason.",
}, []string{"reason"})

// invalidReasons are the reasons a claim can be Invalid for.
var invalidReasons = []string{
	ipamv1alpha1.ReasonPoolMissing, ipamv1alpha1.ReasonOutsidePool, ipamv1alpha1.ReasonUnusable,
	ipamv1alpha1.ReasonMisaligned, ipamv1alpha1.ReasonDuplicate, ipamv1alpha1.ReasonNamespaceNotSelected, ipamv1alpha1.ReasonLabels,
}

// Garbage-collector counters, by reason (ipamv1alpha1.ReasonPodGone or
// ReasonNodeGone), so that a leak storm after a node failure shows up.
var (
	gcClaimsOrphaned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipkeeper_gc_claims_orphaned_total",
		Help: "Claims the garbage collector marked Orphaned, by reason.",
	}, []string{"reason"})
	gcClaimsReleased = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipkeeper_gc_claims_released_total",
		Help: "Claims the garbage collector deleted, by reason.",
	}, []string{"reason"})
)

func init() {
	metrics.Registry.MustRegister(poolCapacity, poolAllocated, poolFree, poolBlocks, poolInvalidClaims,
		gcClaimsOrphaned, gcClaimsReleased, claimsInvalid)
	// Every series exists, at zero, from the start, so that rate() and
	// increase() see the first orphan and the first release.
	gcClaimsOrphaned.WithLabelValues(ipamv1alpha1.ReasonPodGone)
	for _, reason := range []string{ipamv1alpha1.ReasonPodGone, ipamv1alpha1.ReasonNodeGone, ipamv1alpha1.ReasonPoolGone} {
		gcClaimsReleased.WithLabelValues(reason)
	}
	for _, reason := range invalidReasons {
		claimsInvalid.WithLabelValues(reason)
	}
}

// recordPoolMetrics publishes the counts of a pool.
func recordPoolMetrics(pool string, c poolCounts) {
	poolCapacity.WithLabelValues(pool).Set(c.capacity.Float64())
	poolAllocated.WithLabelValues(pool).Set(c.allocated.Float64())
	poolFree.WithLabelValues(pool).Set(c.free.Float64())
	poolBlocks.WithLabelValues(pool).Set(c.blocks.Float64())
	poolInvalidClaims.WithLabelValues(pool).Set(c.invalid.Float64())
}

// forgetPoolMetrics removes the series of a pool that is gone or whose
// counts are unknown, so that dashboards do not show stale numbers.
func forgetPoolMetrics(pool string) {
	for _, g := range []*prometheus.GaugeVec{poolCapacity, poolAllocated, poolFree, poolBlocks, poolInvalidClaims} {
		g.DeleteLabelValues(pool)
	}
}
