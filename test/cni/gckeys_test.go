package cni

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/containernetworking/cni/pkg/invoke"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// TestGCReadsEitherKey runs GC with the valid attachments under one key
// only: cni.dev/valid-attachments, as the specification names it now, or
// cni.dev/attachments, as it first named it (libcni sends both). Either
// way the valid attachment's claim stays and the stale one goes.
func TestGCReadsEitherKey(t *testing.T) {
	env.CreateReadyPool(t, "gckeys", ipamv1alpha1.IPPoolSpec{CIDR: "10.63.0.0/24"})
	n := newNode(t, "node-gckeys")
	ipam := n.ipamConfig("gckeys")
	list := harness.IPAMNetwork("gckeysnet", ipam)
	for i, key := range []string{"cni.dev/valid-attachments", "cni.dev/attachments"} {
		t.Run(key, func(t *testing.T) {
			kept := harness.RuntimeConf("c-gckeys-kept-"+string(rune('a'+i)), nil)
			keptIP := add(t, n, list, kept).IPs[0].Address.IP.String()
			staleIP := add(t, n, list, harness.RuntimeConf("c-gckeys-stale-"+string(rune('a'+i)), nil)).IPs[0].Address.IP.String()
			conf, err := json.Marshal(map[string]any{
				"cniVersion": "1.1.0", "name": "gckeysnet", "type": "ipkeeper", "ipam": ipam,
				key: []map[string]string{{"containerID": kept.ContainerID, "ifname": kept.IfName}},
			})
			if err != nil {
				t.Fatal(err)
			}
			err = invoke.ExecPluginWithoutResult(context.Background(), filepath.Join(binDir, "ipkeeper"), conf,
				&invoke.Args{Command: "GC", Path: binDir}, nil)
			if err != nil {
				t.Fatalf("GC: %v", err)
			}
			claims := env.AddressClaims(t, "gckeys")
			if _, ok := claims[keptIP]; !ok {
				t.Fatalf("GC with %s released the valid attachment's %s", key, keptIP)
			}
			if _, ok := claims[staleIP]; ok {
				t.Fatalf("GC with %s kept the stale %s", key, staleIP)
			}
			if err := n.cni.DelNetworkList(context.Background(), list, kept); err != nil {
				t.Fatal(err)
			}
		})
	}
}
