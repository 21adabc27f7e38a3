package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClaimType says what an IPClaim reserves.
// +kubebuilder:validation:Enum=Address;Block
type ClaimType string

const (
	// ClaimTypeAddress reserves one address for one pod interface.
	ClaimTypeAddress ClaimType = "Address"
	// ClaimTypeBlock reserves a node's block of a pool.
	ClaimTypeBlock ClaimType = "Block"
)

// IPClaimSpec is one reservation. It never changes after create: release a
// claim by deleting it.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable: delete the claim and create a new one"
// +kubebuilder:validation:XValidation:rule="self.type == 'Address' ? (has(self.address) && !has(self.cidr)) : (has(self.cidr) && !has(self.address))",message="an Address claim sets address and not cidr; a Block claim sets cidr and not address"
// +kubebuilder:validation:XValidation:rule="self.type == 'Address' || !has(self.owner)",message="owner is only for Address claims: a Block claim belongs to its node"
type IPClaimSpec struct {
	// pool is the name of the IPPool the address or block comes from.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Pool string `json:"pool"`

	// type is Address (one address for one pod interface) or Block (a node's
	// share of a pool that it allocates addresses inside).
	// +required
	Type ClaimType `json:"type"`

	// node is the node that made the claim.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Node string `json:"node,omitempty"`

	// address is the reserved address of an Address claim, in canonical form.
	// +optional
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="address must be an IPv4 or IPv6 address such as 10.32.1.5 or fd00::1"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip.isCanonical(self)",message="address must be in canonical form: lower case with the shortest IPv6 spelling (fd00::1, not FD00:0::1)"
	Address string `json:"address,omitempty"`

	// cidr is the reserved block of a Block claim, in canonical form.
	// +optional
	// +kubebuilder:validation:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a prefix such as 10.32.1.0/24"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || string(cidr(self).masked()) == self",message="cidr must be in canonical form: lower case, shortest IPv6 spelling, and no bits set after the prefix length"
	CIDR string `json:"cidr,omitempty"`

	// owner is the pod interface an Address claim is for.
	// +optional
	Owner *ClaimOwner `json:"owner,omitempty"`
}

// ClaimOwner identifies the pod interface that holds an address. Pod fields
// are empty when the container runtime is not Kubernetes.
//
// +kubebuilder:validation:XValidation:rule="!has(self.pod) || (has(self.namespace) && has(self.name) && self.pod.split('/') == [self.namespace, self.name])",message="pod must be namespace/name of the owner pod"
type ClaimOwner struct {
	// namespace of the pod.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// name of the pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// pod is namespace/name, shown by kubectl get ipclaims.
	// +optional
	// +kubebuilder:validation:MaxLength=317
	Pod string `json:"pod,omitempty"`
	// uid of the pod. The garbage collector releases the claim once no pod
	// with this uid exists, even when a pod with the same name does.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	UID string `json:"uid,omitempty"`
	// containerID is the CNI container ID (the pod sandbox).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ContainerID string `json:"containerID"`
	// interface is the CNI interface name inside the container.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Interface string `json:"interface"`
	// network is the CNI network name the address was allocated for.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Network string `json:"network,omitempty"`
}

// IPClaimStatus is what the operator last observed of a claim.
type IPClaimStatus struct {
	// conditions: Orphaned is True from the moment the garbage collector
	// first saw the owner pod gone; the claim is released a grace period
	// later unless the pod is found again. Invalid is True while the claim
	// breaks a rule of its pool; the operator never deletes such a claim.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IPClaim reserves one address for a pod interface, or one block of a pool
// for a node. Its name is the reserved address or block, so the API server
// never lets two claims hold the same one.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ipc,categories=ipam
// +kubebuilder:selectablefield:JSONPath=".spec.pool"
// +kubebuilder:selectablefield:JSONPath=".spec.type"
// +kubebuilder:selectablefield:JSONPath=".spec.node"
// +kubebuilder:selectablefield:JSONPath=".spec.owner.containerID"
// +kubebuilder:selectablefield:JSONPath=".spec.owner.uid"
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=".spec.type"
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=".spec['address','cidr']"
// +kubebuilder:printcolumn:name="Pool",type=string,JSONPath=".spec.pool"
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=".spec.node"
// +kubebuilder:printcolumn:name="Pod",type=string,JSONPath=".spec.owner.pod"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:validation:XValidation:rule="self.spec.type != 'Address' || !has(self.spec.address) || !isIP(self.spec.address) || (ip(self.spec.address).family() == 4 ? self.metadata.name == self.spec.address : (self.metadata.name.matches('^([0-9a-f]{4}-){7}[0-9a-f]{4}$') && ip(self.metadata.name.replace('-', ':')) == ip(self.spec.address)))",message="the name of an Address claim must be its address: the IPv4 address itself (10.32.1.5), or all eight IPv6 groups written out with '-' for ':' (fd00-0000-0000-0000-0000-0000-0000-0001)"
// +kubebuilder:validation:XValidation:rule="self.spec.type != 'Block' || !has(self.spec.cidr) || !isCIDR(self.spec.cidr) || (cidr(self.spec.cidr).ip().family() == 4 ? self.metadata.name == self.spec.cidr.replace('/', '-') : (self.metadata.name.matches('^([0-9a-f]{4}-){8}(0|[1-9][0-9]{0,2})$') && ip(self.metadata.name.substring(0, 39).replace('-', ':')) == cidr(self.spec.cidr).ip() && int(self.metadata.name.substring(40)) == cidr(self.spec.cidr).prefixLength()))",message="the name of a Block claim must be its first address and prefix length joined by '-': 10.32.1.0-24, or all eight IPv6 groups written out with '-' for ':' (fd00-0000-0000-0000-0000-0000-0000-0000-120)"
type IPClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the reservation.
	// +required
	Spec IPClaimSpec `json:"spec"`
	// status is observed by the operator.
	// +optional
	Status IPClaimStatus `json:"status,omitempty"`
}

// IPClaimList is a list of IPClaims.
//
// +kubebuilder:object:root=true
type IPClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPClaim `json:"items"`
}

// Holder describes who holds the claim, for messages: the pod and its
// container, the container alone (a runtime other than Kubernetes), or the
// node (a block).
func (c *IPClaim) Holder() string {
	o := c.Spec.Owner
	switch {
	case o == nil:
		return "node " + c.Spec.Node
	case o.Namespace != "" && o.Name != "":
		return "pod " + o.Namespace + "/" + o.Name + " (container " + o.ContainerID + " on node " + c.Spec.Node + ")"
	}
	return "container " + o.ContainerID + " on node " + c.Spec.Node
}
