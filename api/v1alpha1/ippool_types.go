package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPPoolSpec declares a range of addresses and how nodes hand them out.
//
// +kubebuilder:validation:XValidation:rule="!has(self.blockSize) || !isCIDR(self.cidr) || (self.blockSize >= cidr(self.cidr).prefixLength() && self.blockSize <= (cidr(self.cidr).ip().family() == 4 ? 32 : 128))",message="blockSize must lie between the prefix length of cidr and 32 (IPv4) or 128 (IPv6); pick a prefix length no shorter than the pool's own"
// +kubebuilder:validation:XValidation:rule="has(self.blockSize) == has(oldSelf.blockSize)",message="blockSize is immutable: create a new pool to change the size of node blocks"
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !isCIDR(self.cidr) || !isIP(self.gateway) || cidr(self.cidr).containsIP(self.gateway)",message="gateway must be an address inside cidr"
type IPPoolSpec struct {
	// cidr is the pool's prefix in canonical form, e.g. 10.32.0.0/12 or
	// fd00:10:32::/64. Pods get addresses with this prefix length. One pool is
	// one family: use two pools for dual-stack.
	// +required
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be an IPv4 or IPv6 prefix such as 10.32.0.0/12 or fd00::/64"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || string(cidr(self).masked()) == self",message="cidr must be in canonical form: lower case, shortest IPv6 spelling, and no bits set after the prefix length (write the network address, e.g. 10.32.0.0/12)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cidr is immutable: create a new pool for a new range"
	CIDR string `json:"cidr"`

	// blockSize is the prefix length of the blocks that nodes claim from the
	// pool and allocate inside. It defaults to 24 for IPv4 and 120 for IPv6,
	// or to the pool's own prefix length when that is longer.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="blockSize is immutable: create a new pool to change the size of node blocks"
	BlockSize *int32 `json:"blockSize,omitempty"`

	// exclude lists addresses (10.32.0.10), prefixes (10.32.0.0/28) and
	// inclusive ranges (10.32.0.10-10.32.0.20) inside cidr that are never
	// handed out.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=91
	// +kubebuilder:validation:items:XValidation:rule="isIP(self) || isCIDR(self) || (self.split('-').size() == 2 && isIP(self.split('-')[0]) && isIP(self.split('-')[1]))",message="each exclusion must be an address, a prefix, or a range first-last of two addresses"
	Exclude []string `json:"exclude,omitempty"`

	// gateway is the address pods use as their default gateway. It lies
	// inside cidr, is returned to the CNI runtime, and is never handed out.
	// +optional
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="gateway must be an IPv4 or IPv6 address"
	Gateway string `json:"gateway,omitempty"`

	// routes are returned to the CNI runtime with every address of the pool.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Routes []Route `json:"routes,omitempty"`

	// dns is returned to the CNI runtime with every address of the pool.
	// +optional
	DNS *DNS `json:"dns,omitempty"`

	// nodeSelector selects the nodes that may allocate from the pool. Empty
	// selects every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`

	// namespaceSelector selects the namespaces whose pods may allocate from
	// the pool, by the namespaces' labels (every namespace carries
	// kubernetes.io/metadata.name: its name). Empty selects every namespace.
	// The CNI plugin refuses the pool, and any static address in it, to pods
	// of other namespaces, and to callers that are not Kubernetes pods; the
	// admission webhook refuses claims whose spec.owner.namespace it does not
	// select.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// strictAffinity, when true, keeps every node inside its own blocks: once
	// no block is free, allocation fails instead of borrowing a single
	// address from another node's block.
	// +optional
	StrictAffinity bool `json:"strictAffinity,omitempty"`

	// disabled stops new allocations from the pool. Existing claims stay.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
}

// Route is a route returned with every address of a pool.
type Route struct {
	// dst is the destination prefix, e.g. 0.0.0.0/0.
	// +required
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="dst must be a prefix such as 0.0.0.0/0 or ::/0"
	Dst string `json:"dst"`

	// gw is the next hop; empty means the pool's gateway.
	// +optional
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="gw must be an IPv4 or IPv6 address"
	GW string `json:"gw,omitempty"`
}

// DNS is the resolver configuration returned with every address of a pool.
type DNS struct {
	// nameservers are resolver addresses, in order of preference.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=39
	Nameservers []string `json:"nameservers,omitempty"`
	// domain is the local domain name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain,omitempty"`
	// search lists domains to search for short names, in order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	Search []string `json:"search,omitempty"`
	// options are resolver options such as ndots:5.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	Options []string `json:"options,omitempty"`
}

// IPPoolStatus is what the operator last observed of a pool. Address counts
// are decimal strings because an IPv6 pool holds more than 2^63 addresses.
type IPPoolStatus struct {
	// capacity is the number of usable addresses: every address in cidr
	// minus exclusions, the gateway, the IPv4 network and broadcast addresses
	// and the IPv6 subnet-router address.
	// +optional
	Capacity string `json:"capacity,omitempty"`
	// allocated is the number of usable addresses held by Address claims.
	// +optional
	Allocated int64 `json:"allocated"`
	// free is capacity minus allocated.
	// +optional
	Free string `json:"free,omitempty"`
	// blocks is the number of node blocks claimed.
	// +optional
	Blocks int64 `json:"blocks"`
	// invalidClaims is the number of the pool's claims marked Invalid: they
	// break a rule of the pool (see kubectl get ipclaims and their
	// conditions) and need a person to look at them.
	// +optional
	InvalidClaims int64 `json:"invalidClaims,omitempty"`
	// blockCapacity is the number of blocks the pool divides into.
	// +optional
	BlockCapacity string `json:"blockCapacity,omitempty"`
	// conditions are Ready, Overlapping and Exhausted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// observedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// namespaces shows which namespaces may allocate from the pool:
	// spec.namespaceSelector as kubectl prints selectors (tenant=a), or
	// <all> when the pool selects every namespace.
	// +optional
	Namespaces string `json:"namespaces,omitempty"`
}

// IPPool is a range of addresses that nodes allocate pod addresses from.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ipp,categories=ipam
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=".spec.cidr"
// +kubebuilder:printcolumn:name="Capacity",type=string,JSONPath=".status.capacity"
// +kubebuilder:printcolumn:name="Allocated",type=integer,JSONPath=".status.allocated"
// +kubebuilder:printcolumn:name="Free",type=string,JSONPath=".status.free"
// +kubebuilder:printcolumn:name="Blocks",type=integer,JSONPath=".status.blocks"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=".status.namespaces",priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type IPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the range and how it is handed out.
	// +required
	Spec IPPoolSpec `json:"spec"`
	// status is observed by the operator.
	// +optional
	Status IPPoolStatus `json:"status,omitempty"`
}

// IPPoolList is a list of IPPools.
//
// +kubebuilder:object:root=true
type IPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPPool `json:"items"`
}
