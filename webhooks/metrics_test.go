package webhooks

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

// registeredDenials reads ipkeeper_webhook_denials_total{kind, reason}
// from the controller-runtime registry.
func registeredDenials(t *testing.T, kind, reason string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "ipkeeper_webhook_denials_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series ipkeeper_webhook_denials_total{kind=%q,reason=%q} in the registry", kind, reason)
	return 0
}

// scrapedDenials reads the same series from the manager's /metrics.
func scrapedDenials(t *testing.T, kind, reason string) float64 {
	t.Helper()
	return harness.MetricValue(t, metricsAddr, fmt.Sprintf("ipkeeper_webhook_denials_total{kind=%q,reason=%q}", kind, reason))
}

// A request refused for several reasons counts once per reason; a failed
// cache read is no denial.
func TestDeniedCountsEachReasonOnce(t *testing.T) {
	labels, unusable := registeredDenials(t, "IPClaim", reasonLabels), registeredDenials(t, "IPClaim", reasonUnusable)
	path := field.NewPath("spec")
	if err := denied(claimKind, "x", field.ErrorList{
		invalid(path, "a", "one", reasonLabels), invalid(path, "b", "two", reasonLabels), invalid(path, "c", "three", reasonUnusable),
	}); err == nil {
		t.Fatal("field errors must deny")
	}
	if got := registeredDenials(t, "IPClaim", reasonLabels) - labels; got != 1 {
		t.Errorf("Labels grew by %v; want 1", got)
	}
	if got := registeredDenials(t, "IPClaim", reasonUnusable) - unusable; got != 1 {
		t.Errorf("Unusable grew by %v; want 1", got)
	}

	poolOverlap, claimOverlapFree := registeredDenials(t, "IPPool", reasonOverlap), registeredDenials(t, "IPClaim", reasonDuplicate)
	_ = denied(poolKind, "p", field.ErrorList{invalid(path, "10.0.0.0/8", "overlaps", reasonOverlap)})
	if got := registeredDenials(t, "IPPool", reasonOverlap) - poolOverlap; got != 1 {
		t.Errorf("IPPool Overlap grew by %v; want 1", got)
	}
	if got := registeredDenials(t, "IPClaim", reasonDuplicate) - claimOverlapFree; got != 0 {
		t.Errorf("a pool denial changed an IPClaim series by %v", got)
	}

	before := registeredDenials(t, "IPClaim", reasonInvalidSpec)
	_ = denied(claimKind, "x", field.ErrorList{
		field.InternalError(path, context.DeadlineExceeded), invalid(path, "a", "one", reasonInvalidSpec),
	})
	if got := registeredDenials(t, "IPClaim", reasonInvalidSpec) - before; got != 0 {
		t.Errorf("a failed cache read counted as a denial (InvalidSpec grew by %v)", got)
	}
}

// A denial through the API server shows on the manager's /metrics with
// its kind and reason.
func TestDenialMetricIsServed(t *testing.T) {
	before := scrapedDenials(t, "IPClaim", reasonPoolMissing)
	if got := scrapedDenials(t, "IPPool", reasonOverlap); got < 0 {
		t.Fatalf("IPPool Overlap = %v", got)
	}
	c := baseClaim()
	c.Spec.Pool = "no-such-pool"
	delete(c.Labels, "ipam.ipkeeper.dev/pool")
	expectDenied(t, env.Client.Create(context.Background(), c), claimWebhook, c.Name, `no IPPool "no-such-pool" exists`)
	if got := scrapedDenials(t, "IPClaim", reasonPoolMissing) - before; got != 1 {
		t.Fatalf("ipkeeper_webhook_denials_total{kind=IPClaim,reason=PoolMissing} grew by %v; want 1", got)
	}
}
