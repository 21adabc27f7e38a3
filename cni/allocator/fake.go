package allocator

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

var _ Store = (*Fake)(nil)

// Fake is an in-memory Store for unit tests. Like the API server it refuses
// a second claim of the same name and gives every claim it creates a UID
// and a rising resourceVersion; it counts calls so that tests can check how
// many round trips an operation costs.
type Fake struct {
	mu     sync.Mutex
	claims map[string]ipamv1alpha1.IPClaim
	nextID int
	// Calls counts calls by method name.
	Calls map[string]int
	// BlockReads are the blocks whose claims BlockAddresses listed, in
	// order.
	BlockReads []netip.Prefix
	// FailCreate, when set, is returned by Create for the claims it
	// selects (nil error: no failure).
	FailCreate func(*ipamv1alpha1.IPClaim) error
}

// NewFake returns a Fake holding claims.
func NewFake(claims ...*ipamv1alpha1.IPClaim) *Fake {
	f := &Fake{claims: map[string]ipamv1alpha1.IPClaim{}, Calls: map[string]int{}}
	for _, c := range claims {
		if err := f.Create(context.Background(), c); err != nil {
			panic(err)
		}
	}
	f.Calls = map[string]int{}
	return f
}

// Names returns the names of every claim, sorted.
func (f *Fake) Names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.claims))
	for n := range f.claims {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// List returns copies of the claims match selects, sorted by name, and
// counts the call under method: fakes of larger stores list through it.
func (f *Fake) List(method string, match func(*ipamv1alpha1.IPClaim) bool) []ipamv1alpha1.IPClaim {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls[method]++
	var out []ipamv1alpha1.IPClaim
	for _, c := range f.claims {
		if match(&c) {
			out = append(out, *c.DeepCopy())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NodeClaims returns the claims of node, as the plugin lists them.
func (f *Fake) NodeClaims(_ context.Context, node string) ([]ipamv1alpha1.IPClaim, error) {
	return f.List("NodeClaims", func(c *ipamv1alpha1.IPClaim) bool { return c.Spec.Node == node }), nil
}

// PoolBlocks implements Store.
func (f *Fake) PoolBlocks(_ context.Context, pool string) (map[netip.Prefix]string, error) {
	out := map[netip.Prefix]string{}
	for _, c := range f.List("PoolBlocks", func(c *ipamv1alpha1.IPClaim) bool {
		return c.Spec.Pool == pool && c.Spec.Type == ipamv1alpha1.ClaimTypeBlock
	}) {
		out[netip.MustParsePrefix(c.Spec.CIDR)] = ipamv1alpha1.LabelValue(c.Spec.Node)
	}
	return out, nil
}

// BlockAddresses implements Store. It records the block in BlockReads.
func (f *Fake) BlockAddresses(_ context.Context, block netip.Prefix) ([]netip.Addr, error) {
	name := ipspace.BlockClaimName(block)
	var out []netip.Addr
	for _, c := range f.List("BlockAddresses", func(c *ipamv1alpha1.IPClaim) bool {
		return c.Spec.Type == ipamv1alpha1.ClaimTypeAddress && c.Labels[ipamv1alpha1.LabelBlock] == name
	}) {
		out = append(out, netip.MustParseAddr(c.Spec.Address))
	}
	f.mu.Lock()
	f.BlockReads = append(f.BlockReads, block)
	f.mu.Unlock()
	return out, nil
}

// Get implements Store.
func (f *Fake) Get(_ context.Context, name string) (*ipamv1alpha1.IPClaim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Get"]++
	c, ok := f.claims[name]
	if !ok {
		return nil, fmt.Errorf("get claim %s: %w", name, ErrNotFound)
	}
	return c.DeepCopy(), nil
}

// Create implements Store.
func (f *Fake) Create(_ context.Context, claim *ipamv1alpha1.IPClaim) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Create"]++
	if f.FailCreate != nil {
		if err := f.FailCreate(claim); err != nil {
			return err
		}
	}
	if _, ok := f.claims[claim.Name]; ok {
		return fmt.Errorf("create claim %s: %w", claim.Name, ErrAlreadyExists)
	}
	f.nextID++
	claim.UID = types.UID(fmt.Sprintf("uid-%d", f.nextID))
	claim.ResourceVersion = strconv.Itoa(f.nextID)
	f.claims[claim.Name] = *claim.DeepCopy()
	return nil
}

// Delete implements Store.
func (f *Fake) Delete(_ context.Context, claim *ipamv1alpha1.IPClaim) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls["Delete"]++
	if c, ok := f.claims[claim.Name]; ok && c.UID == claim.UID {
		delete(f.claims, claim.Name)
	}
	return nil
}
