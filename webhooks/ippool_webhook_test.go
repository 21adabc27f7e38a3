package webhooks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// poolFixtures are the objects the pool table cases run against: another
// IPv4 pool, an IPv6 pool, and claims of pool "pods".
func poolFixtures() []client.Object {
	return []client.Object{
		pool("other", "10.64.0.0/16"),
		pool("v6", "fd00:10:32::/64"),
		podClaim("pods", "10.32.5.5", "c0ffee"),
		harness.BlockClaim("pods", "node-a", "10.32.5.0/24"),
		podClaim("other", "10.64.0.20", "other"),
	}
}

// poolCase is a change to a valid pool and the answer it gets: want is
// the text of the webhook's error ("" = admitted) and reason its denial
// reason. Through the API server the CRD's own rules run before the webhook;
// serverWant, when set, is the answer the API server gives first. fakeOnly,
// when set, says why the case cannot be set up through the API server.
type poolCase struct {
	name       string
	old        func(*ipamv1alpha1.IPPool)
	mutate     func(*ipamv1alpha1.IPPool)
	want       string
	reason     string
	serverWant string
	fakeOnly   string
}

// poolCreateCases run against poolFixtures (only its pools through the API
// server).
func poolCreateCases() []poolCase {
	return []poolCase{
		{name: "valid IPv4", mutate: func(*ipamv1alpha1.IPPool) {}},
		{name: "valid IPv6 with defaults", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "fd00:10:33::/64", Exclude: []string{"fd00:10:33::1-fd00:10:33::ff"},
				Gateway: "fd00:10:33::1", Routes: []ipamv1alpha1.Route{{Dst: "::/0", GW: "fd00:10:33::1"}}}
		}},
		{name: "valid next to another pool", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "10.65.0.0/16"}
		}},

		{name: "cidr with host bits", serverWant: "cidr must be in canonical form", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.32.0.1/16" },
			want: `spec.cidr: Invalid value: "10.32.0.1/16": 10.32.0.1/16 is not in canonical form: write 10.32.0.0/16`, reason: reasonInvalidSpec},
		{name: "upper-case IPv6 cidr", serverWant: "cidr must be in canonical form", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "FD00:10:33::/64"} },
			want: "write fd00:10:33::/64", reason: reasonInvalidSpec},
		{name: "cidr that is no prefix", serverWant: "cidr must be an IPv4 or IPv6 prefix", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.32.0.0" },
			want: `"10.32.0.0" is not a prefix such as 10.32.0.0/12`, reason: reasonInvalidSpec},
		{name: "IPv4-mapped cidr", serverWant: "cidr must be an IPv4 or IPv6 prefix", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "::ffff:10.32.0.0/112"} },
			want: "IPv4-mapped IPv6 prefix: write IPv4 prefixes in dotted form", reason: reasonInvalidSpec},
		{name: "block shorter than the pool", serverWant: "blockSize must lie between the prefix length of cidr and 32", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](8) },
			want: "spec.blockSize: Invalid value: 8: blocks of 10.32.0.0/16 must be /16 to /32", reason: reasonInvalidSpec},

		{name: "valid namespaceSelector", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}
		}},
		{name: "namespaceSelector that does not parse", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tenant", Operator: "Equals", Values: []string{"a"}},
			}}
		},
			want:   `spec.namespaceSelector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator: write a label selector such as {matchLabels: {tenant: a}} or {matchExpressions: [{key: tenant, operator: In, values: [a, b]}]}`,
			reason: reasonInvalidSpec},
		{name: "namespaceSelector with a label key that is none", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"tenant/a/b": "a"}}
		}, want: `spec.namespaceSelector.matchLabels: Invalid value: "tenant/a/b": a valid label key must consist of`, reason: reasonInvalidSpec},

		{name: "overlaps a pool it contains", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "10.0.0.0/8"} },
			want:   `spec.cidr: Invalid value: "10.0.0.0/8": 10.0.0.0/8 overlaps pool "other" (10.64.0.0/16): an address belongs to one pool only; pick a range outside 10.64.0.0/16, or delete pool "other" first`,
			reason: reasonOverlap},
		{name: "overlaps a pool containing it", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "10.64.128.0/17"} },
			want: `10.64.128.0/17 overlaps pool "other" (10.64.0.0/16)`, reason: reasonOverlap},
		{name: "overlaps an IPv6 pool", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec = ipamv1alpha1.IPPoolSpec{CIDR: "fd00::/16"} },
			want: `fd00::/16 overlaps pool "v6" (fd00:10:32::/64)`, reason: reasonOverlap},

		{name: "exclusion outside the pool", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.33.0.0/24"} },
			want:   `spec.exclude[0]: Invalid value: "10.33.0.0/24": 10.33.0.0/24 reaches outside the pool's 10.32.0.0/16: exclude only addresses inside spec.cidr`,
			reason: reasonInvalidSpec},
		{name: "exclusion range reaching outside", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.255.0-10.33.0.5"} },
			want: "10.32.255.0-10.33.0.5 reaches outside the pool's 10.32.0.0/16", reason: reasonInvalidSpec},
		{name: "exclusion of the other family", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.0.10", "fd00::1"} },
			want: "spec.exclude[1]: Invalid value: \"fd00::1\": fd00::1 is IPv6 but the pool 10.32.0.0/16 is IPv4", reason: reasonInvalidSpec},
		{name: "malformed exclusion", serverWant: "each exclusion must be an address, a prefix, or a range", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.0.x"} },
			want: `"10.32.0.x" is not an IPv4 or IPv6 address such as 10.32.0.1 or fd00::1: write an address (10.32.0.10), a prefix (10.32.0.0/28) or a range`, reason: reasonInvalidSpec},
		{name: "reversed exclusion range", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.0.20-10.32.0.10"} },
			want: "ends before it starts: write the lower address first", reason: reasonInvalidSpec},
		{name: "exclusion prefix with host bits", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.1.5/28"} },
			want: "has bits set after the prefix length: write 10.32.1.0/28", reason: reasonInvalidSpec},

		{name: "gateway outside the pool", serverWant: "gateway must be an address inside cidr", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "10.33.0.1" },
			want:   `spec.gateway: Invalid value: "10.33.0.1": the gateway 10.33.0.1 lies outside the pool's 10.32.0.0/16: pick an address inside spec.cidr`,
			reason: reasonInvalidSpec},
		{name: "gateway of the other family", serverWant: "gateway must be an address inside cidr", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "fd00::1" },
			want: "the gateway fd00::1 lies outside the pool's 10.32.0.0/16", reason: reasonInvalidSpec},
		{name: "malformed gateway", serverWant: "gateway must be an IPv4 or IPv6 address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "gateway" },
			want: `spec.gateway: Invalid value: "gateway": "gateway" is not an IPv4 or IPv6 address`, reason: reasonInvalidSpec},

		{name: "route to the other family", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[1].Dst = "::/0" },
			want:   `spec.routes[1].dst: Invalid value: "::/0": ::/0 is IPv6 but the pool 10.32.0.0/16 is IPv4: give IPv4 destinations`,
			reason: reasonInvalidSpec},
		{name: "route destination with host bits", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[1].Dst = "192.168.1.0/16" },
			want:   "spec.routes[1].dst: Invalid value: \"192.168.1.0/16\": 192.168.1.0/16 is not in canonical form: write 192.168.0.0/16",
			reason: reasonInvalidSpec},
		{name: "route next hop of the other family", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[1].GW = "fd00::1" },
			want:   `spec.routes[1].gw: Invalid value: "fd00::1": fd00::1 is IPv6 but the pool 10.32.0.0/16 is IPv4: give an IPv4 next hop`,
			reason: reasonInvalidSpec},
		{name: "malformed route next hop", serverWant: "gw must be an IPv4 or IPv6 address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Routes[0].GW = "10.32.0.256" },
			want: `spec.routes[0].gw: Invalid value: "10.32.0.256"`, reason: reasonInvalidSpec},
	}
}

func TestIPPoolValidatorCreate(t *testing.T) {
	reader := fakeReader(t, poolFixtures()...)
	for _, tt := range poolCreateCases() {
		t.Run(tt.name, func(t *testing.T) {
			p := basePool()
			tt.mutate(p)
			v := &IPPoolValidator{Reader: reader}
			expectErrors(t, v.validate(context.Background(), nil, p), tt.want, tt.reason)
		})
	}
}

// poolUpdateCases change basePool (first changed by old, if set) while
// the claims of poolFixtures exist.
func poolUpdateCases() []poolCase {
	return []poolCase{
		{name: "unchanged", mutate: func(*ipamv1alpha1.IPPool) {}},
		{name: "disable", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled = true }},
		{name: "change a disabled pool", old: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled = true },
			mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Disabled, p.Spec.Routes = true, nil }},
		{name: "exclude unclaimed addresses", mutate: func(p *ipamv1alpha1.IPPool) {
			p.Spec.Exclude = append(p.Spec.Exclude, "10.32.5.6-10.32.5.255", "10.32.6.0/24")
		}},
		{name: "move the gateway to an unclaimed address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "10.32.5.1" }},
		{name: "metadata change of a pool stored with a broken spec", fakeOnly: "the webhook never admits the broken spec",
			old:    func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.99.0.0/24"} },
			mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.99.0.0/24"}; p.Finalizers = nil }},
		{name: "exclude a claim that was already excluded", fakeOnly: "the webhook never admits a claim of an excluded address",
			old:    func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.5.5"} },
			mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.32.5.0/28"} }},

		{name: "cidr changed", serverWant: "cidr is immutable: create a new pool for a new range", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.CIDR = "10.32.0.0/15" },
			want:   `spec.cidr: Invalid value: "10.32.0.0/15": cidr is immutable (it was 10.32.0.0/16): create a new pool for the new range`,
			reason: reasonImmutable},
		{name: "blockSize changed", serverWant: "blockSize is immutable: create a new pool to change the size of node blocks", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = ptr.To[int32](26) },
			want:   "spec.blockSize: Invalid value: 26: blockSize is immutable (it was 24): nodes' blocks are cut to it; create a new pool for another block size",
			reason: reasonImmutable},
		{name: "blockSize removed", serverWant: "blockSize is immutable: create a new pool to change the size of node blocks", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.BlockSize = nil },
			want: `spec.blockSize: Invalid value: "unset": blockSize is immutable (it was 24)`, reason: reasonImmutable},
		{name: "exclude a claimed address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = append(p.Spec.Exclude, "10.32.5.0/28") },
			want:   `spec.exclude[3]: Invalid value: "10.32.5.0/28": 10.32.5.5 is held by claim "10.32.5.5" of pod default/web-0 (container c0ffee on node node-a): release it first (delete the pod, or the claim), or exclude a range without it`,
			reason: reasonClaimedAddress},
		{name: "move the gateway onto a claimed address", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Gateway = "10.32.5.5" },
			want:   `spec.gateway: Invalid value: "10.32.5.5": 10.32.5.5 is held by claim "10.32.5.5" of pod default/web-0 (container c0ffee on node node-a): release it first (delete the pod, or the claim), or pick an unclaimed gateway`,
			reason: reasonClaimedAddress},
		{name: "new exclusions still checked on update", mutate: func(p *ipamv1alpha1.IPPool) { p.Spec.Exclude = []string{"10.99.0.0/24"} },
			want: "10.99.0.0/24 reaches outside the pool's 10.32.0.0/16", reason: reasonInvalidSpec},
	}
}

func TestIPPoolValidatorUpdate(t *testing.T) {
	reader := fakeReader(t, poolFixtures()...)
	for _, tt := range poolUpdateCases() {
		t.Run(tt.name, func(t *testing.T) {
			old := basePool()
			old.Finalizers = []string{ipamv1alpha1.PoolFinalizer}
			if tt.old != nil {
				tt.old(old)
			}
			p := old.DeepCopy()
			tt.mutate(p)
			v := &IPPoolValidator{Reader: reader}
			expectErrors(t, v.validate(context.Background(), old, p), tt.want, tt.reason)
		})
	}
}

// A busy range excluded at once lists a few claims and counts the rest.
func TestIPPoolValidatorListsFewClaimedAddresses(t *testing.T) {
	objs := []client.Object{}
	for i := 1; i <= maxClaimedListed+3; i++ {
		objs = append(objs, podClaim("pods", fmt.Sprintf("10.32.7.%d", i), fmt.Sprintf("c%d", i)))
	}
	v := &IPPoolValidator{Reader: fakeReader(t, objs...)}
	old := basePool()
	p := old.DeepCopy()
	p.Spec.Exclude = append(p.Spec.Exclude, "10.32.7.0/24")
	errs := v.validate(context.Background(), old, p)
	if len(errs) != maxClaimedListed+1 {
		t.Fatalf("got %d errors, want %d: %v", len(errs), maxClaimedListed+1, errs.ToAggregate())
	}
	if !strings.Contains(errs[0].Error(), `10.32.7.1 is held by claim "10.32.7.1"`) {
		t.Errorf("first error = %v; want the lowest claimed address first", errs[0])
	}
	if want := "3 more claimed addresses would become unusable"; !strings.Contains(errs[maxClaimedListed].Error(), want) {
		t.Errorf("last error = %v; want %q", errs[maxClaimedListed], want)
	}
}

// Two overlapping creates that reach one replica before its cache shows
// either are not both admitted.
func TestIPPoolValidatorRemembersAdmittedPools(t *testing.T) {
	reader := fakeReader(t)
	now := time.Unix(1_700_000_000, 0)
	v := &IPPoolValidator{Reader: reader, now: func() time.Time { return now }}
	ctx := context.Background()
	create := func(ctx context.Context, name, cidr string) error {
		_, err := v.ValidateCreate(ctx, pool(name, cidr))
		return err
	}

	if err := create(ctx, "a", "10.100.0.0/16"); err != nil {
		t.Fatalf("first pool refused: %v", err)
	}
	err := create(ctx, "b", "10.100.128.0/17")
	if err == nil || !strings.Contains(err.Error(), `overlaps pool "a" (10.100.0.0/16, being created)`) {
		t.Fatalf("overlapping create while the first is in flight: err = %v; want an overlap with the pool being created", err)
	}

	now = now.Add(recentTTL + time.Second)
	if err := create(ctx, "b", "10.100.128.0/17"); err != nil {
		t.Fatalf("after %v the admission that never reached the cache must not count: %v", recentTTL, err)
	}
	v.forget("b")

	dryRun := admission.NewContextWithRequest(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{DryRun: ptr.To(true)}})
	if err := create(dryRun, "c", "10.101.0.0/16"); err != nil {
		t.Fatalf("dry run refused: %v", err)
	}
	if err := create(ctx, "d", "10.101.0.0/16"); err != nil {
		t.Fatalf("a dry run must not hold its range: %v", err)
	}

	v.forget("d")
	if err := create(ctx, "e", "10.101.0.0/16"); err != nil {
		t.Fatalf("once the cache shows a pool (forget), only the cache counts: %v", err)
	}

	// The cache holds pool "e" with another range: the cache wins.
	if err := reader.Create(ctx, pool("e", "10.102.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := create(ctx, "f", "10.101.0.0/16"); err != nil {
		t.Fatalf("an admitted pool whose name is in the cache must not count: %v", err)
	}
}
