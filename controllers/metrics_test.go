package controllers

import (
	"fmt"
	"testing"
	"time"
)

func TestMetricsServePoolGauges(t *testing.T) {
	const pool = "metrics"
	// Six usable addresses in two /30 blocks.
	createPool(t, pool, "10.109.0.0/29", 30)
	createClaim(t, addressClaim(pool, "10.109.0.1", 30, runtimeOwner("a")))
	createClaim(t, addressClaim(pool, "10.109.0.2", 30, runtimeOwner("b")))
	createClaim(t, blockClaim(pool, "10.109.0.0/30", createNode(t, "metrics-node").Name))

	want := map[string]float64{
		`ipkeeper_pool_capacity{pool="metrics"}`:  6,
		`ipkeeper_pool_allocated{pool="metrics"}`: 2,
		`ipkeeper_pool_free{pool="metrics"}`:      4,
		`ipkeeper_pool_blocks{pool="metrics"}`:    1,
	}
	eventually(t, 10*time.Second, func() error {
		samples, err := scrape()
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
	deletePool(t, pool)
	eventually(t, 10*time.Second, func() error {
		samples, err := scrape()
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
