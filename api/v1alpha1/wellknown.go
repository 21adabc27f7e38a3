package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels ipkeeper sets on every IPClaim so that a node lists only what it
// needs. Their values are derived from the claim's spec and never change.
const (
	// LabelPool names the IPPool a claim belongs to.
	LabelPool = "ipam.ipkeeper.dev/pool"
	// LabelNode names the node that made the claim.
	LabelNode = "ipam.ipkeeper.dev/node"
	// LabelBlock names the Block claim (a pure function of the address and the
	// pool's block size) whose range holds an Address claim's address.
	LabelBlock = "ipam.ipkeeper.dev/block"
)

// ClaimLabels returns the labels ipkeeper puts on a claim of pool made by
// node: LabelPool, LabelNode and, when block is not empty, LabelBlock
// naming the Block claim whose range holds the claim. They are derived from
// the spec, never change, and nodes list claims by them.
func ClaimLabels(pool, node, block string) map[string]string {
	labels := map[string]string{LabelPool: LabelValue(pool), LabelNode: LabelValue(node)}
	if block != "" {
		labels[LabelBlock] = block
	}
	return labels
}

// Annotations users set on pods and namespaces.
const (
	// AnnotationPools lists, comma-separated, the pools a pod takes addresses
	// from, at most one per family. On a pod it wins over its namespace; on a
	// namespace it wins over the CNI configuration.
	AnnotationPools = "ipam.ipkeeper.dev/pools"
	// AnnotationIPs lists, comma-separated, the exact addresses a pod asks
	// for, at most one per family.
	AnnotationIPs = "ipam.ipkeeper.dev/ips"
	// AnnotationPrefix begins every ipkeeper annotation; the plugin refuses
	// a pod annotation under it that it does not know, since a misspelt key
	// would otherwise be ignored without a word.
	AnnotationPrefix = "ipam.ipkeeper.dev/"
)

// NetworkPoolsAnnotation returns the key of the annotation that chooses the
// pools of one network of a pod (ipam.ipkeeper.dev/pools.<network>, where
// network is the CNI network name: with Multus, the
// NetworkAttachmentDefinition's name). It wins over AnnotationPools, which
// applies to every network of the pod.
func NetworkPoolsAnnotation(network string) string { return AnnotationPools + "." + network }

// NetworkIPsAnnotation returns the key of the annotation that asks for exact
// addresses on one network of a pod (ipam.ipkeeper.dev/ips.<network>). It
// wins over AnnotationIPs, which applies to every network of the pod.
func NetworkIPsAnnotation(network string) string { return AnnotationIPs + "." + network }

// Annotations of Multus, the meta plugin that attaches several networks to
// a pod, that the plugin reads to tell which networks a pod has.
const (
	// MultusNetworksAnnotation lists a pod's secondary networks: name,
	// namespace/name, name@interface, or a JSON list of network selection
	// elements.
	MultusNetworksAnnotation = "k8s.v1.cni.cncf.io/networks"
	// MultusDefaultNetworkAnnotation replaces a pod's default network.
	MultusDefaultNetworkAnnotation = "v1.multus-cni.io/default-network"
)

// PoolFinalizer keeps a deleted IPPool Terminating until its last claim is
// gone, so that no address is ever handed out twice by a recreated pool.
const PoolFinalizer = "ipam.ipkeeper.dev/in-use"

// Field paths of IPClaim that the CRD declares as selectableFields and the
// operator indexes, so that field selectors work the same against the API
// server and the operator's cache.
const (
	FieldPool        = "spec.pool"
	FieldType        = "spec.type"
	FieldNode        = "spec.node"
	FieldContainerID = "spec.owner.containerID"
	FieldPodUID      = "spec.owner.uid"
)

// IPPool condition types.
const (
	// PoolReady is True when nodes may allocate from the pool.
	PoolReady = "Ready"
	// PoolOverlapping is True when the pool overlaps an older pool, which wins.
	PoolOverlapping = "Overlapping"
	// PoolExhausted is True when no usable address is free.
	PoolExhausted = "Exhausted"
)

// Reasons of IPPool conditions.
const (
	// ReasonAllocatable: Ready is True and addresses may be handed out.
	ReasonAllocatable = "Allocatable"
	// ReasonDisabled: spec.disabled is set, no new allocations.
	ReasonDisabled = "Disabled"
	// ReasonTerminating: the pool is being deleted and waits for its claims.
	ReasonTerminating = "Terminating"
	// ReasonOverlapsOlderPool: an older pool (or the same age, earlier name)
	// covers some of the same addresses and wins.
	ReasonOverlapsOlderPool = "OverlapsOlderPool"
	// ReasonNoOverlap: no other pool shares an address with this one.
	ReasonNoOverlap = "NoOverlap"
	// ReasonNoFreeAddresses: every usable address is claimed.
	ReasonNoFreeAddresses = "NoFreeAddresses"
	// ReasonFreeAddresses: at least one usable address is free.
	ReasonFreeAddresses = "FreeAddresses"
	// ReasonInvalidSpec: the spec cannot be used (only possible when it was
	// stored while the admission webhook was not in the way).
	ReasonInvalidSpec = "InvalidSpec"
)

// IPClaim condition types and reasons.
const (
	// ClaimOrphaned is True once the garbage collector has seen that the
	// claim's pod is gone; its lastTransitionTime is when that was first seen.
	// The claim is released after the grace period unless the pod is found.
	ClaimOrphaned = "Orphaned"
	// ReasonPodGone: no pod with the owner's namespace, name and uid exists.
	ReasonPodGone = "PodGone"
	// ReasonPodFound: the owner pod exists again (or always did).
	ReasonPodFound = "PodFound"
	// ReasonNodeGone: the node of a Block claim no longer exists. The
	// garbage collector releases such a block as soon as no Address claim
	// lies inside it, without a grace period: no pod can run on a node that
	// is gone.
	ReasonNodeGone = "NodeGone"
	// ReasonPoolGone: the pool of a Block claim is being deleted, or no
	// longer exists (it was deleted while a node claimed the block). The
	// garbage collector releases such a block as soon as no Address claim
	// lies inside it, so that the pool's deletion can complete.
	ReasonPoolGone = "PoolGone"
)

// IPClaim condition Invalid and its reasons. The operator checks every
// claim against its pool after the fact, whoever made it and whether or not
// the webhook was there: a claim that breaks a rule is marked, announced and
// counted, never deleted, since a pod may be using the address.
const (
	// ClaimInvalid is True when the claim breaks a rule of its pool; the
	// reason names the rule and the message says what to do.
	ClaimInvalid = "Invalid"
	// ReasonPoolMissing: the claim's pool does not exist.
	ReasonPoolMissing = "PoolMissing"
	// ReasonOutsidePool: the address or block lies outside the pool, or is
	// of the other family.
	ReasonOutsidePool = "OutsidePool"
	// ReasonUnusable: the address is excluded, the gateway, or a network,
	// broadcast or subnet-router address.
	ReasonUnusable = "Unusable"
	// ReasonMisaligned: a Block claim does not have the pool's block size
	// or does not start on a multiple of it.
	ReasonMisaligned = "Misaligned"
	// ReasonDuplicate: an older Address claim of the same pool holds an
	// address for the same container interface.
	ReasonDuplicate = "Duplicate"
	// ReasonNamespaceNotSelected: the pool's namespaceSelector does not
	// select the namespace of the claim's pod.
	ReasonNamespaceNotSelected = "NamespaceNotSelected"
	// ReasonLabels: an ipkeeper label of the claim disagrees with its spec.
	ReasonLabels = "Labels"
	// ReasonValid: the claim keeps every rule of its pool (again).
	ReasonValid = "Valid"
)

// Admission: names shared by the webhook's registration, the node-claims
// admission policy and the operator that keeps them in force.
const (
	// NodeNameExtra is the user extra the API server sets for a
	// service-account token bound to a pod on a node: the node's name.
	NodeNameExtra = "authentication.kubernetes.io/node-name"
	// ClaimWebhookName is the name of the IPClaim webhook in its
	// ValidatingWebhookConfiguration.
	ClaimWebhookName = "vipclaim.ipam.ipkeeper.dev"
	// NotNodeBoundCondition names the match condition that keeps requests
	// with a node-bound credential (the CNI plugin's) away from the IPClaim
	// webhook: the node-claims policy inside the API server judges them, so
	// pods start whether or not the operator runs.
	NotNodeBoundCondition = "not-node-bound"
	// NotNodeBoundExpression is that condition's CEL expression.
	NotNodeBoundExpression = "!('" + NodeNameExtra + "' in request.userInfo.extra)"
)

// maxLabelValue is the longest value a Kubernetes label may hold.
const maxLabelValue = 63

// LabelValue returns the value of LabelPool or LabelNode for a pool or node
// name. Names may be up to 253 characters but label values only 63, so a
// longer name is cut and suffixed with a hash of the whole name: still
// unique, still readable, and computed the same way by every writer and
// reader.
func LabelValue(name string) string {
	if len(name) <= maxLabelValue {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := hex.EncodeToString(sum[:])[:10]
	head := strings.TrimRight(name[:maxLabelValue-len(suffix)-1], "-.")
	return head + "-" + suffix
}
