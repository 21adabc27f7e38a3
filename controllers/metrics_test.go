package controllers

import (
	"fmt"
	"testing"

	"k8s.io/utils/ptr"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

func TestMetricsServePoolGauges(t *testing.T) {
	const pool = "metrics"
	// Six usable addresses in two /30 blocks.
	env.CreatePool(t, pool, ipamv1alpha1.IPPoolSpec{CIDR: "10.109.0.0/29", BlockSize: ptr.To[int32](30)})
	env.CreateClaim(t, harness.AddressClaim(pool, "", "10.109.0.1", 30, harness.RuntimeOwner("a")))
	env.CreateClaim(t, harness.AddressClaim(pool, "", "10.109.0.2", 30, harness.RuntimeOwner("b")))
	env.CreateClaim(t, harness.BlockClaim(pool, env.CreateNode(t, "metrics-node").Name, "10.109.0.0/30"))

	want := map[string]float64{
		`ipkeeper_pool_capacity{pool="metrics"}`:  6,
		`ipkeeper_pool_allocated{pool="metrics"}`: 2,
		`ipkeeper_pool_free{pool="metrics"}`:      4,
		`ipkeeper_pool_blocks{pool="metrics"}`:    1,
	}
	harness.Eventually(t, operatorTimeout, func() error {
		samples, err := harness.ScrapeMetrics(metricsAddr)
		if err != nil {
			return err
		}
		for series, v := range want {
			got, ok := samples[series]
			if !ok {
				return fmt.Errorf("no sample %s", series)
			}
			if got != v {
				return fmt.Errorf("%s = %v; want %v", series, got, v)
			}
		}
		return nil
	})

	// A deleted pool leaves no stale series behind.
	env.DeletePool(t, pool)
	harness.Eventually(t, operatorTimeout, func() error {
		samples, err := harness.ScrapeMetrics(metricsAddr)
		if err != nil {
			return err
		}
		for series := range want {
			if _, ok := samples[series]; ok {
				return fmt.Errorf("%s is still served", series)
			}
		}
		return nil
	})
}
