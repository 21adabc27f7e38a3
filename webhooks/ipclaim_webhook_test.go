package webhooks

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// claimFixtures are the objects the claim table cases run against.
func claimFixtures() []client.Object {
	off := pool("off", "10.40.0.0/16")
	off.Spec.Disabled = true
	gone := pool("gone", "10.41.0.0/16")
	gone.Finalizers = []string{ipamv1alpha1.PoolFinalizer}
	gone.DeletionTimestamp = ptr.To(metav1.Now())
	v6 := pool("v6", "fd00:10:32::/64")
	v6.Spec.Gateway = "fd00:10:32::1"
	return []client.Object{
		basePool(), off, gone, v6, tenantPool(),
		podClaim("pods", "10.32.6.7", "dup"),
	}
}

// tenantPool is a pool for every namespace but default (by the label every
// namespace carries), so that the API server's own namespaces serve for
// both answers.
func tenantPool() *ipamv1alpha1.IPPool {
	p := pool("tenant", "10.42.0.0/16")
	p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"default"}},
	}}
	return p
}

// namespaces are the API server's own namespaces, for the fake reader.
func namespaces() []client.Object {
	var out []client.Object
	for _, name := range []string{"default", "kube-public"} {
		out = append(out, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelMetadataName: name}}})
	}
	return out
}

// inNamespace moves a claim's owner pod to namespace.
func inNamespace(c *ipamv1alpha1.IPClaim, namespace string) {
	c.Spec.Owner.Namespace, c.Spec.Owner.Pod = namespace, namespace+"/"+c.Spec.Owner.Name
}

// baseClaim is a valid Address claim of pool "pods", the base the table
// cases mutate.
func baseClaim() *ipamv1alpha1.IPClaim {
	return podClaim("pods", "10.32.5.5", "c0ffee")
}

// asBlock turns a claim into the Block claim for cidr, named and labelled
// as the CNI plugin would.
func asBlock(c *ipamv1alpha1.IPClaim, name, cidr string) {
	c.Name, c.Spec.Type, c.Spec.Address, c.Spec.CIDR, c.Spec.Owner = name, ipamv1alpha1.ClaimTypeBlock, "", cidr, nil
	c.Labels[ipamv1alpha1.LabelBlock] = name
}

// asAddress moves a claim to address a of pool p, in block block, and
// names it as the CRD requires.
func asAddress(c *ipamv1alpha1.IPClaim, p, a, block string) {
	c.Name, c.Spec.Pool, c.Spec.Address = ipspace.AddressClaimName(netip.MustParseAddr(a)), p, a
	c.Labels[ipamv1alpha1.LabelPool], c.Labels[ipamv1alpha1.LabelBlock] = p, block
}

// claimCase is a change to a valid claim and the answer it gets, as in
// poolCase; node, when set, is the node the request's token is bound to.
type claimCase struct {
	name       string
	old        func(*ipamv1alpha1.IPClaim)
	mutate     func(*ipamv1alpha1.IPClaim)
	want       string
	reason     string
	serverWant string
	fakeOnly   string
}

// claimCreateCases run against claimFixtures.
func claimCreateCases() []claimCase {
	return []claimCase{
		{name: "valid address", mutate: func(*ipamv1alpha1.IPClaim) {}},
		{name: "valid address without labels", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels = nil }},
		{name: "valid block", mutate: func(c *ipamv1alpha1.IPClaim) { asBlock(c, "10.32.7.0-24", "10.32.7.0/24") }},
		{name: "valid IPv6 address", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "v6", "fd00:10:32::5", "fd00-0010-0032-0000-0000-0000-0000-0000-120")
		}},
		{name: "valid IPv6 block", mutate: func(c *ipamv1alpha1.IPClaim) {
			c.Spec.Pool, c.Labels[ipamv1alpha1.LabelPool] = "v6", "v6"
			asBlock(c, "fd00-0010-0032-0000-0000-0000-0000-0100-120", "fd00:10:32::100/120")
		}},
		{name: "same container, another interface", mutate: func(c *ipamv1alpha1.IPClaim) {
			c.Spec.Owner.ContainerID, c.Spec.Owner.Interface = "dup", "net1"
		}},
		{name: "same interface, another pool", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "v6", "fd00:10:32::5", "fd00-0010-0032-0000-0000-0000-0000-0000-120")
			c.Spec.Owner.ContainerID = "dup"
		}},
		{name: "retry of an existing claim is left to the API server", serverWant: "already exists", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "pods", "10.32.6.7", "10.32.6.0-24")
			c.Spec.Owner.ContainerID = "dup"
		}},

		{name: "a pod of a namespace the pool selects", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "tenant", "10.42.0.5", "10.42.0.0-24")
			inNamespace(c, "kube-public")
		}},
		{name: "no pod: not judged by namespace", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "tenant", "10.42.0.5", "10.42.0.0-24")
			c.Spec.Owner = harness.RuntimeOwner("c0ffee")
		}},
		{name: "a block of a pool with a namespaceSelector", mutate: func(c *ipamv1alpha1.IPClaim) {
			c.Spec.Pool, c.Labels[ipamv1alpha1.LabelPool] = "tenant", "tenant"
			asBlock(c, "10.42.1.0-24", "10.42.1.0/24")
		}},
		{name: "a pod of a namespace the pool does not select", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "tenant", "10.42.0.5", "10.42.0.0-24")
		},
			want:   `spec.owner.namespace: Invalid value: "default": pool "tenant" does not select namespace "default" (namespaceSelector kubernetes.io/metadata.name notin (default)): claim from a pool that selects the namespace, or label the namespace to match`,
			reason: reasonNamespaceNotSelected},

		{name: "pool missing", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Pool = "nope"; delete(c.Labels, ipamv1alpha1.LabelPool) },
			want:   `spec.pool: Invalid value: "nope": no IPPool "nope" exists: name an existing pool (kubectl get ippools) or create it first`,
			reason: reasonPoolMissing},
		{name: "pool disabled", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "off", "10.40.0.5", "10.40.0.0-24") },
			want:   `spec.pool: Invalid value: "off": pool "off" is disabled (spec.disabled) and hands out no new addresses: enable it or claim from another pool`,
			reason: reasonPoolUnavailable},
		{name: "pool terminating", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "gone", "10.41.0.5", "10.41.0.0-24") },
			want:   `pool "gone" is being deleted and hands out no new addresses: claim from another pool`,
			reason: reasonPoolUnavailable},
		{name: "block of a disabled pool", mutate: func(c *ipamv1alpha1.IPClaim) {
			c.Spec.Pool, c.Labels[ipamv1alpha1.LabelPool] = "off", "off"
			asBlock(c, "10.40.1.0-24", "10.40.1.0/24")
		}, want: `pool "off" is disabled`, reason: reasonPoolUnavailable},

		{name: "address outside the pool", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.33.0.5", "10.33.0.0-24") },
			want:   `spec.address: Invalid value: "10.33.0.5": 10.33.0.5 lies outside pool "pods" (IPv4 10.32.0.0/16): pick an address inside 10.32.0.0/16, or a pool that holds 10.33.0.5`,
			reason: reasonOutsidePool},
		{name: "address of the other family", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "fd00:10:32::5", "") },
			want: `fd00:10:32::5 lies outside pool "pods" (IPv4 10.32.0.0/16)`, reason: reasonOutsidePool},
		{name: "the gateway", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.0.1", "10.32.0.0-24") },
			want:   `spec.address: Invalid value: "10.32.0.1": 10.32.0.1 is the gateway of 10.32.0.0/16 and is never handed out; pick another address`,
			reason: reasonUnusable},
		{name: "an excluded address", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.0.10", "10.32.0.0-24") },
			want: "10.32.0.10 is excluded by 10.32.0.10 and is never handed out; pick another address", reason: reasonUnusable},
		{name: "an address in an excluded range", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.2.5", "10.32.2.0-24") },
			want: "10.32.2.5 is excluded by 10.32.2.1-10.32.2.9", reason: reasonUnusable},
		{name: "an address in an excluded prefix", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.1.3", "10.32.1.0-24") },
			want: "10.32.1.3 is excluded by 10.32.1.0-10.32.1.15", reason: reasonUnusable},
		{name: "the network address", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.0.0", "10.32.0.0-24") },
			want: "10.32.0.0 is the network address of 10.32.0.0/16 and is never handed out", reason: reasonUnusable},
		{name: "the broadcast address", mutate: func(c *ipamv1alpha1.IPClaim) { asAddress(c, "pods", "10.32.255.255", "10.32.255.0-24") },
			want: "10.32.255.255 is the broadcast address of 10.32.0.0/16", reason: reasonUnusable},
		{name: "the IPv6 subnet-router address", mutate: func(c *ipamv1alpha1.IPClaim) {
			asAddress(c, "v6", "fd00:10:32::", "fd00-0010-0032-0000-0000-0000-0000-0000-120")
		}, want: "fd00:10:32:: is the subnet-router anycast address of fd00:10:32::/64", reason: reasonUnusable},

		{name: "block of another size", mutate: func(c *ipamv1alpha1.IPClaim) { asBlock(c, "10.32.8.0-25", "10.32.8.0/25") },
			want:   `spec.cidr: Invalid value: "10.32.8.0/25": block 10.32.8.0/25 must have the pool's block size /24: blocks of pool "pods" are /24 and start on a multiple of their size, e.g. 10.32.8.0/24`,
			reason: reasonMisaligned},
		{name: "unaligned block", serverWant: "cidr must be in canonical form", mutate: func(c *ipamv1alpha1.IPClaim) { asBlock(c, "10.32.8.0-24", "10.32.8.5/24") },
			want: "block 10.32.8.5/24 is not aligned: its first address is 10.32.8.0", reason: reasonMisaligned},
		{name: "block outside the pool", mutate: func(c *ipamv1alpha1.IPClaim) { asBlock(c, "10.33.0.0-24", "10.33.0.0/24") },
			want:   `spec.cidr: Invalid value: "10.33.0.0/24": 10.33.0.0/24 lies outside pool "pods" (IPv4 10.32.0.0/16): claim a block inside 10.32.0.0/16`,
			reason: reasonOutsidePool},
		{name: "block of the other family", mutate: func(c *ipamv1alpha1.IPClaim) {
			asBlock(c, "fd00-0010-0032-0000-0000-0000-0000-0100-120", "fd00:10:32::100/120")
		}, want: `fd00:10:32::100/120 lies outside pool "pods"`, reason: reasonOutsidePool},

		{name: "second address for one interface", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Owner.ContainerID = "dup" },
			want:   `spec.owner.interface: Invalid value: "eth0": interface eth0 of container dup already holds 10.32.6.7 from pool "pods" (claim "10.32.6.7"): an interface gets one address per pool; reuse that claim, or delete it first`,
			reason: reasonDuplicate},

		{name: "pool label of another pool", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels[ipamv1alpha1.LabelPool] = "other" },
			want:   `metadata.labels[ipam.ipkeeper.dev/pool]: Invalid value: "other": must be "pods", from spec.pool: nodes list claims by this label; set it to "pods" or leave it out`,
			reason: reasonLabels},
		{name: "node label of another node", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels[ipamv1alpha1.LabelNode] = "node-b" },
			want: `metadata.labels[ipam.ipkeeper.dev/node]: Invalid value: "node-b": must be "node-a", from spec.node`, reason: reasonLabels},
		{name: "block label of another block", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels[ipamv1alpha1.LabelBlock] = "10.32.4.0-24" },
			want:   `metadata.labels[ipam.ipkeeper.dev/block]: Invalid value: "10.32.4.0-24": must be "10.32.5.0-24", from the block holding the claim`,
			reason: reasonLabels},
		{name: "block claim labelled with another block", mutate: func(c *ipamv1alpha1.IPClaim) {
			asBlock(c, "10.32.7.0-24", "10.32.7.0/24")
			c.Labels[ipamv1alpha1.LabelBlock] = "10.32.8.0-24"
		}, want: `must be "10.32.7.0-24", from the block holding the claim`, reason: reasonLabels},
	}
}

func TestIPClaimValidatorCreate(t *testing.T) {
	reader := fakeReader(t, append(claimFixtures(), namespaces()...)...)
	for _, tt := range claimCreateCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := baseClaim()
			tt.mutate(c)
			v := &IPClaimValidator{Reader: reader}
			expectErrors(t, v.validate(context.Background(), nil, c), tt.want, tt.reason)
		})
	}
}

// TestAPoolTheCacheHasNotSeenIsReadFromTheAPIServer judges a claim from a
// pool created a moment ago, which the cache does not hold yet: the pool
// is read from the API server and the claim admitted. Without that reader,
// only a pool the cache holds counts.
func TestAPoolTheCacheHasNotSeenIsReadFromTheAPIServer(t *testing.T) {
	cache := fakeReader(t, podClaim("pods", "10.32.6.7", "dup"))
	api := fakeReader(t, claimFixtures()...)
	v := &IPClaimValidator{Reader: cache, APIReader: api}
	expectErrors(t, v.validate(context.Background(), nil, baseClaim()), "", "")

	cacheOnly := &IPClaimValidator{Reader: cache}
	expectErrors(t, cacheOnly.validate(context.Background(), nil, baseClaim()), `no IPPool "pods" exists`, reasonPoolMissing)
}

// claimUpdateCases change baseClaim (first changed by old, if set).
func claimUpdateCases() []claimCase {
	return []claimCase{
		{name: "unchanged", mutate: func(*ipamv1alpha1.IPClaim) {}},
		{name: "annotations and finalizers", mutate: func(c *ipamv1alpha1.IPClaim) {
			c.Annotations = map[string]string{"example.com/note": "kept"}
			c.Finalizers = []string{"example.com/hold"}
		}},
		{name: "other labels", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels["app"] = "web" }},
		{name: "claim of a pool since disabled or deleted", fakeOnly: "needs a pool deleted after the claim: see TestClaimOfTerminatingPoolCanBeUpdated",
			old:    func(c *ipamv1alpha1.IPClaim) { asAddress(c, "gone", "10.41.0.5", "10.41.0.0-24") },
			mutate: func(c *ipamv1alpha1.IPClaim) { c.Finalizers = nil }},

		{name: "node changed", serverWant: "spec is immutable: delete the claim and create a new one", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Node = "node-b" },
			want:   `spec.node: Invalid value: "node-b": was "node-a"; a claim's spec never changes: delete the claim and create a new one`,
			reason: reasonImmutable},
		{name: "address changed", serverWant: "spec is immutable: delete the claim and create a new one", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Address = "10.32.5.6" },
			want: `spec.address: Invalid value: "10.32.5.6": was "10.32.5.5"; a claim's spec never changes`, reason: reasonImmutable},
		{name: "pool changed", serverWant: "spec is immutable: delete the claim and create a new one", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Pool = "other" },
			want: `spec.pool: Invalid value: "other": was "pods"`, reason: reasonImmutable},
		{name: "owner changed", serverWant: "spec is immutable: delete the claim and create a new one", mutate: func(c *ipamv1alpha1.IPClaim) { c.Spec.Owner.UID = "another" },
			want: "spec.owner: Forbidden: the owner changed; a claim's spec never changes: delete the claim and create a new one", reason: reasonImmutable},

		{name: "pool label changed", mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels[ipamv1alpha1.LabelPool] = "other" },
			want:   `metadata.labels[ipam.ipkeeper.dev/pool]: Invalid value: "other": was "pods", but ipkeeper labels never change: nodes list claims by them; put back "pods"`,
			reason: reasonLabels},
		{name: "node label removed", mutate: func(c *ipamv1alpha1.IPClaim) { delete(c.Labels, ipamv1alpha1.LabelNode) },
			want:   `metadata.labels[ipam.ipkeeper.dev/node]: Forbidden: removed, but ipkeeper labels never change: nodes list claims by them; put back "node-a"`,
			reason: reasonLabels},
		{name: "block label added", old: func(c *ipamv1alpha1.IPClaim) { delete(c.Labels, ipamv1alpha1.LabelBlock) },
			mutate: func(c *ipamv1alpha1.IPClaim) { c.Labels[ipamv1alpha1.LabelBlock] = "10.32.5.0-24" },
			want:   `metadata.labels[ipam.ipkeeper.dev/block]: Invalid value: "10.32.5.0-24": added, but ipkeeper labels never change`,
			reason: reasonLabels},
	}
}

func TestIPClaimValidatorUpdate(t *testing.T) {
	reader := fakeReader(t, claimFixtures()...)
	for _, tt := range claimUpdateCases() {
		t.Run(tt.name, func(t *testing.T) {
			old := baseClaim()
			old.Finalizers = []string{"example.com/hold"}
			if tt.old != nil {
				tt.old(old)
			}
			c := old.DeepCopy()
			tt.mutate(c)
			v := &IPClaimValidator{Reader: reader}
			expectErrors(t, v.validate(context.Background(), old, c), tt.want, tt.reason)
		})
	}
}

// The typed entry points surface field errors as one Invalid status that
// names the object, and read failures as server errors.
func TestValidatorsAnswerWithStatus(t *testing.T) {
	v := &IPClaimValidator{Reader: fakeReader(t, claimFixtures()...)}
	c := baseClaim()
	c.Spec.Pool = "nope"
	_, err := v.ValidateCreate(context.Background(), c)
	want := `IPClaim.ipam.ipkeeper.dev "10.32.5.5" is invalid: `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v; want it to start with %q", err, want)
	}
	if _, err := v.ValidateDelete(context.Background(), c); err != nil {
		t.Fatalf("delete refused: %v", err)
	}

	broken := denied(claimKind, "x", field.ErrorList{field.InternalError(field.NewPath("spec"), context.DeadlineExceeded)})
	if broken == nil || !strings.Contains(broken.Error(), "Internal error occurred") {
		t.Fatalf("a failed cache read = %v; want an internal error the client retries", broken)
	}
}
