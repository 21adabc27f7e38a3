// Command rawcreate is the baseline of ipkeeper's allocation benchmarks: the
// least any CNI IPAM plugin that reserves addresses through the API server
// must do per ADD. A runtime executes it as it executes ipkeeper (through
// libcni, with the network configuration on stdin); it loads the node's
// kubeconfig with client-go and makes exactly one request, the create of an
// IPClaim of the size ipkeeper writes, for the address the benchmark passes
// in CNI_ARGS, and prints it as the CNI result. It reads nothing, locks
// nothing and remembers nothing: what ipkeeper costs beyond it is the price
// of choosing the address itself.
//
// It is built by the benchmarks (test/perf), never shipped.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// Keys of CNI_ARGS through which the benchmark names the claim to create.
const (
	AddressArg = "IPKEEPER_BENCH_ADDRESS"
	BlockArg   = "IPKEEPER_BENCH_BLOCK"
)

// netConf is what rawcreate reads of the network configuration: the ipam
// section of ipkeeper's, so that both read the same node kubeconfig.
type netConf struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	IPAM       struct {
		Kubeconfig string   `json:"kubeconfig"`
		NodeName   string   `json:"nodeName"`
		Pools      []string `json:"pools"`
	} `json:"ipam"`
}

var claims = schema.GroupVersionResource{Group: "ipam.ipkeeper.dev", Version: "v1alpha1", Resource: "ipclaims"}

func main() {
	if err := run(); err != nil {
		// A CNI error result, as libcni expects it on stdout.
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"cniVersion": "1.1.0", "code": 999, "msg": err.Error()})
		os.Exit(1)
	}
}

func run() error {
	if cmd := os.Getenv("CNI_COMMAND"); cmd != "ADD" {
		return fmt.Errorf("rawcreate only answers ADD, not %q", cmd)
	}
	var conf netConf
	if err := json.NewDecoder(os.Stdin).Decode(&conf); err != nil {
		return fmt.Errorf("read the network configuration: %w", err)
	}
	if len(conf.IPAM.Pools) == 0 {
		return errors.New("the configuration names no pool")
	}
	args := cniArgs(os.Getenv("CNI_ARGS"))
	cfg, err := clientcmd.BuildConfigFromFlags("", conf.IPAM.Kubeconfig)
	if err != nil {
		return fmt.Errorf("read kubeconfig %s: %w", conf.IPAM.Kubeconfig, err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create API client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	claim := addressClaim(conf, args)
	if _, err := client.Resource(claims).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create claim %s: %w", claim.GetName(), err)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"cniVersion": conf.CNIVersion,
		"ips":        []map[string]string{{"address": args[AddressArg] + "/32"}},
	})
}

// addressClaim is the claim ipkeeper would write for the address: the same
// labels and owner, as a plain object.
func addressClaim(conf netConf, args map[string]string) *unstructured.Unstructured {
	pool, node, address := conf.IPAM.Pools[0], conf.IPAM.NodeName, args[AddressArg]
	namespace, name := args["K8S_POD_NAMESPACE"], args["K8S_POD_NAME"]
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ipam.ipkeeper.dev/v1alpha1",
		"kind":       "IPClaim",
		"metadata": map[string]any{
			"name": address,
			"labels": map[string]any{
				"ipam.ipkeeper.dev/pool": pool, "ipam.ipkeeper.dev/node": node, "ipam.ipkeeper.dev/block": args[BlockArg],
			},
		},
		"spec": map[string]any{
			"pool": pool, "type": "Address", "node": node, "address": address,
			"owner": map[string]any{
				"namespace": namespace, "name": name, "pod": namespace + "/" + name, "uid": args["K8S_POD_UID"],
				"containerID": os.Getenv("CNI_CONTAINERID"), "interface": os.Getenv("CNI_IFNAME"), "network": conf.Name,
			},
		},
	}}
}

// cniArgs parses CNI_ARGS, KEY=VALUE pairs separated by ';'.
func cniArgs(s string) map[string]string {
	args := map[string]string{}
	for _, pair := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(pair, "="); ok {
			args[k] = v
		}
	}
	return args
}
