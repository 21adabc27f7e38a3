package cni

import (
	"context"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestWebhookDownIsTryAgainLater stops the webhook server: an ADD fails with
// code 11 (the runtime retries) and leaves no claim; once the webhook is
// back, the same ADD succeeds.
func TestWebhookDownIsTryAgainLater(t *testing.T) {
	env.CreateReadyPool(t, "webhook-down", ipamv1alpha1.IPPoolSpec{CIDR: "10.85.0.0/24"})
	n := newNode(t, "node-webhook")
	list := harness.IPAMNetwork("whnet", n.ipamConfig("webhook-down"))
	rt := harness.RuntimeConf("c-webhook-down", nil)

	cluster.StopWebhooksFor(t)
	_, err := n.cni.AddNetworkList(context.Background(), list, rt)
	if startErr := cluster.StartWebhooks(); startErr != nil {
		t.Fatalf("restart the webhook server: %v", startErr)
	}
	ipamtest.ExpectCNIError(t, err, types.ErrTryAgainLater, `failed calling webhook "vipclaim.ipam.ipkeeper.dev"`)
	if left := env.PoolClaims(t, "webhook-down"); len(left) != 0 {
		t.Fatalf("claims left by the failed ADD: %v", left)
	}

	result := add(t, n, list, rt)
	if len(result.IPs) != 1 || len(env.AddressClaims(t, "webhook-down")) != 1 {
		t.Fatalf("the ADD after the webhook came back returned %v", result.IPs)
	}
}
