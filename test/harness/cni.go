package harness

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/libcni"
	corev1 "k8s.io/api/core/v1"
)

// AbsentNetNS is the CNI_NETNS of calls that need no network namespace: an
// IPAM plugin called directly never enters it.
const AbsentNetNS = "/var/run/netns/ipkeeper-test-absent"

// IPAMConfig returns the ipam section of a node's network in which ipkeeper
// allocates from pools for node, with the kubeconfig at kubeconfig and its
// state in dataDir.
func IPAMConfig(kubeconfig, node, dataDir string, pools ...string) map[string]any {
	return map[string]any{
		"type": "ipkeeper", "pools": pools, "kubeconfig": kubeconfig,
		"nodeName": node, "dataDir": dataDir, "timeout": "20s",
	}
}

// NetworkList returns the configuration list of network name whose one
// plugin is plugin, as a runtime reads it from /etc/cni/net.d. It panics
// when libcni refuses the list: the test's configuration is wrong, which no
// test means to test.
func NetworkList(name string, plugin map[string]any) *libcni.NetworkConfigList {
	raw, err := json.Marshal(map[string]any{"cniVersion": "1.1.0", "name": name, "plugins": []any{plugin}})
	if err == nil {
		var list *libcni.NetworkConfigList
		if list, err = libcni.ConfListFromBytes(raw); err == nil {
			return list
		}
	}
	panic(fmt.Sprintf("network configuration list %s: %v", name, err))
}

// IPAMNetwork returns the configuration list of network name whose one
// plugin is the IPAM plugin of ipam (its "type"), called directly as
// runtimes call a plugin.
func IPAMNetwork(name string, ipam map[string]any) *libcni.NetworkConfigList {
	return NetworkList(name, map[string]any{"type": ipam["type"], "ipam": ipam})
}

// RuntimeConf is what a container runtime passes for the sandbox
// containerID of pod, or of no pod when pod is nil.
func RuntimeConf(containerID string, pod *corev1.Pod) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: containerID, NetNS: AbsentNetNS, IfName: "eth0"}
	if pod != nil {
		rt.Args = [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", pod.Namespace},
			{"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", containerID},
			{"K8S_POD_UID", string(pod.UID)},
		}
	}
	return rt
}
