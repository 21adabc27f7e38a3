package poolchoice

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// knownKeys lists the pod annotations under ipamv1alpha1.AnnotationPrefix,
// for the message that refuses any other.
var knownKeys = ipamv1alpha1.AnnotationPools + ", " + ipamv1alpha1.AnnotationIPs + ", " +
	ipamv1alpha1.NetworkPoolsAnnotation("<network>") + " and " + ipamv1alpha1.NetworkIPsAnnotation("<network>")

// networkAdvice ends the message of a per-network annotation that names a
// network the pod does not have.
const networkAdvice = "name a network of the pod as its CNI configuration names it (with Multus, the NetworkAttachmentDefinition's name), or remove the "

// CheckAnnotations refuses pod annotations the plugin cannot act on as
// written, so that a typo fails the ADD instead of being ignored: a key
// under ipam.ipkeeper.dev/ that is not an ipkeeper annotation, and a
// per-network key that names a network the pod can be seen not to have.
// network is the CNI network name of the call.
//
// The networks a pod is seen to have are network itself, those its Multus
// annotations list (k8s.v1.cni.cncf.io/networks, and
// v1.multus-cni.io/default-network), and, when network is one of the
// listed ones (a secondary network), one more: the pod's default network,
// whose name only its own call sees. So the call for the default network
// (or for the only network of a pod without Multus) refuses every unknown
// network, and a call for a secondary network refuses a second one.
func CheckAnnotations(network string, podAnnotations map[string]string) error {
	named, err := perNetworkKeys(podAnnotations)
	if err != nil || len(named) == 0 {
		return err
	}
	known, allowed, ok := knownNetworks(network, podAnnotations)
	if !ok {
		return nil // unparsable: Multus refuses such a pod before it calls a plugin
	}
	var unknownKeys, unknown []string
	for _, net := range slices.Sorted(maps.Keys(named)) {
		if !known[net] {
			unknown = append(unknown, net)
			unknownKeys = append(unknownKeys, named[net]...)
		}
	}
	if len(unknown) <= allowed {
		return nil
	}
	return unknownNetworks(unknownKeys, unknown, slices.Sorted(maps.Keys(known)), allowed)
}

// perNetworkKeys returns the per-network keys of the pod's annotations by
// the network they name, and refuses any other key under the prefix that
// is not an ipkeeper annotation.
func perNetworkKeys(podAnnotations map[string]string) (map[string][]string, error) {
	named := map[string][]string{}
	for _, key := range slices.Sorted(maps.Keys(podAnnotations)) {
		name, ok := strings.CutPrefix(key, ipamv1alpha1.AnnotationPrefix)
		if !ok || key == ipamv1alpha1.AnnotationPools || key == ipamv1alpha1.AnnotationIPs {
			continue
		}
		kind, net, found := strings.Cut(name, ".")
		if !found || net == "" || (kind != "pools" && kind != "ips") {
			return nil, ipamerr.New(ErrBadAnnotation, "unknown annotation %s on the pod; the keys are %s", key, knownKeys)
		}
		named[net] = append(named[net], key)
	}
	return named, nil
}

// knownNetworks returns the networks the pod is seen to have, and how many
// more it may have that the call cannot see; ok is false when the Multus
// annotation does not parse.
func knownNetworks(network string, podAnnotations map[string]string) (known map[string]bool, allowed int, ok bool) {
	listed := listedNetworks(podAnnotations)
	if listed == nil {
		return nil, 0, false
	}
	known = map[string]bool{network: true}
	for _, n := range listed {
		known[n] = true
	}
	defaultNetwork := networkOf(podAnnotations[ipamv1alpha1.MultusDefaultNetworkAnnotation])
	if defaultNetwork != "" {
		known[defaultNetwork] = true
	}
	if slices.Contains(listed, network) && defaultNetwork == "" {
		allowed = 1
	}
	return known, allowed, true
}

// unknownNetworks is the error of per-network keys naming networks the pod
// does not have.
func unknownNetworks(keys, networks, known []string, allowed int) error {
	have := "its networks: " + joinAnd(known)
	if allowed > 0 {
		have = "its networks: " + strings.Join(known, ", ") + " and a default network, which can be only one of them"
	}
	if len(keys) == 1 {
		return ipamerr.New(ErrBadAnnotation, "annotation %s names network %s, which the pod does not have (%s): %sannotation",
			keys[0], networks[0], have, networkAdvice)
	}
	return ipamerr.New(ErrBadAnnotation, "annotations %s name networks %s, which the pod does not have (%s): %sannotations",
		joinAnd(keys), joinAnd(networks), have, networkAdvice)
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// listedNetworks returns the names of the networks the pod's
// k8s.v1.cni.cncf.io/networks annotation lists (the names part of
// name, namespace/name and name@interface, or of the JSON list's
// elements): empty without the annotation, nil when it does not parse.
func listedNetworks(podAnnotations map[string]string) []string {
	value := strings.TrimSpace(podAnnotations[ipamv1alpha1.MultusNetworksAnnotation])
	if value == "" {
		return []string{}
	}
	if strings.HasPrefix(value, "[") {
		var elements []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal([]byte(value), &elements); err != nil {
			return nil
		}
		out := []string{}
		for _, e := range elements {
			if e.Name != "" {
				out = append(out, e.Name)
			}
		}
		return out
	}
	out := []string{}
	for _, entry := range strings.Split(value, ",") {
		if name := networkOf(entry); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// networkOf returns the network name of one entry: the name part of
// namespace/name@interface.
func networkOf(entry string) string {
	entry, _, _ = strings.Cut(strings.TrimSpace(entry), "@")
	if i := strings.LastIndex(entry, "/"); i >= 0 {
		entry = entry[i+1:]
	}
	return strings.TrimSpace(entry)
}
