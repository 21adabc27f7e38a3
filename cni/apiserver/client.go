// Package apiserver is the plugin's view of the Kubernetes API server: the
// allocator's claim store, and the reads of pods, namespaces, nodes and pools
// that choose a pool. The plugin is a short-lived process, so there are no
// informers: each call is one request, answered from the API server's watch
// cache wherever a stale answer is harmless, and only the node's own
// objects are ever listed on the common path.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
)

var _ allocator.Store = (*Client)(nil)

// Client talks to the API server for one CNI call.
type Client struct {
	c client.Client
	// requests counts HTTP requests, to measure round trips per call.
	requests *atomic.Int64
}

// LoadConfig reads a kubeconfig and bounds each request by timeout.
func LoadConfig(kubeconfig string, timeout time.Duration) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = timeout
	return cfg, nil
}

// New returns a Client for cfg. It makes no request: the kinds it uses are
// known in advance, so no discovery is needed.
func New(cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "ipkeeper-cni"
	// A CNI call is a burst of a few requests; client-side throttling
	// would only add latency to pod start.
	cfg.QPS, cfg.Burst = -1, 0
	requests := new(atomic.Int64)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			requests.Add(1)
			return rt.RoundTrip(req)
		})
	})
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := ipamv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, Mapper: staticMapper()})
	if err != nil {
		return nil, fmt.Errorf("create API client: %w", err)
	}
	return &Client{c: c, requests: requests}, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// staticMapper maps the few kinds the plugin uses to their resources.
func staticMapper() meta.RESTMapper {
	core, ipam := corev1.SchemeGroupVersion, ipamv1alpha1.GroupVersion
	m := meta.NewDefaultRESTMapper([]schema.GroupVersion{core, ipam})
	m.Add(core.WithKind("Pod"), meta.RESTScopeNamespace)
	m.Add(core.WithKind("Namespace"), meta.RESTScopeRoot)
	m.Add(core.WithKind("Node"), meta.RESTScopeRoot)
	m.Add(ipam.WithKind("IPPool"), meta.RESTScopeRoot)
	m.Add(ipam.WithKind("IPClaim"), meta.RESTScopeRoot)
	return m
}

// Requests returns how many HTTP requests the client has made.
func (c *Client) Requests() int64 { return c.requests.Load() }

// fromWatchCache asks for whatever the API server's watch cache holds, for
// reads where a slightly stale answer is harmless.
var fromWatchCache = &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}}

// ObjectMeta returns the metadata of a namespace or node (kind), read from
// the watch cache; a missing object is (nil, nil).
func (c *Client) ObjectMeta(ctx context.Context, kind, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	err := c.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj, fromWatchCache)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", kind, objectName(namespace, name), err)
	}
	return obj, nil
}

// PodMeta returns a pod's metadata, read consistently: the pod may have been
// created a moment ago. A missing pod is (nil, nil).
func (c *Client) PodMeta(ctx context.Context, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	err := c.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	return obj, nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Pool returns a pool read from the watch cache, or nil when it does not
// exist. A stale pool is harmless: the admission webhook checks the live
// pool on every claim.
func (c *Client) Pool(ctx context.Context, name string) (*ipamv1alpha1.IPPool, error) {
	pool := &ipamv1alpha1.IPPool{}
	err := c.c.Get(ctx, client.ObjectKey{Name: name}, pool, fromWatchCache)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get pool %s: %w", name, err)
	}
	return pool, nil
}

// NodeClaims lists every claim of node, by label. It must see the node's
// own earlier writes: given the resourceVersion of the node's last claim it
// asks for a list not older than that, which the API server's watch cache
// answers as soon as it has seen that claim; without one the list is
// consistent, which may wait for the cache to catch up with every write in
// the cluster.
func (c *Client) NodeClaims(ctx context.Context, node, notOlderThan string) ([]ipamv1alpha1.IPClaim, error) {
	byNode := client.MatchingLabels{ipamv1alpha1.LabelNode: ipamv1alpha1.LabelValue(node)}
	if notOlderThan != "" {
		if claims, err := c.nodeClaimsNotOlderThan(ctx, byNode, notOlderThan); err == nil || ctx.Err() != nil {
			return claims, err
		}
		// The watch cache did not reach the node's last write in time: it
		// lags, or the node remembers a write newer than anything the API
		// server has (the cluster was restored or rebuilt under it). A
		// consistent list settles both.
	}
	var list ipamv1alpha1.IPClaimList
	if err := c.c.List(ctx, &list, byNode); err != nil {
		return nil, fmt.Errorf("list the claims of node %s: %w", node, err)
	}
	return list.Items, nil
}

// notOlderThanWait bounds how long the watch cache may take to reach the
// node's last write. It normally has it within milliseconds; the API server
// would otherwise wait for a version it never reaches until the request
// times out.
const notOlderThanWait = time.Second

func (c *Client) nodeClaimsNotOlderThan(ctx context.Context, byNode client.MatchingLabels, version string) ([]ipamv1alpha1.IPClaim, error) {
	ctx, cancel := context.WithTimeout(ctx, notOlderThanWait)
	defer cancel()
	var list ipamv1alpha1.IPClaimList
	err := c.c.List(ctx, &list, byNode, &client.ListOptions{Raw: &metav1.ListOptions{
		ResourceVersion: version, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
	}})
	return list.Items, err
}

// ContainerClaims lists the claims of a CNI container ID by field selector
// (spec.owner.containerID is a selectable field). The list is consistent: a
// DEL that missed a claim created a moment ago would leak its address.
func (c *Client) ContainerClaims(ctx context.Context, containerID string) ([]ipamv1alpha1.IPClaim, error) {
	var list ipamv1alpha1.IPClaimList
	err := c.c.List(ctx, &list, client.MatchingFields{ipamv1alpha1.FieldContainerID: containerID})
	if err != nil {
		return nil, fmt.Errorf("list the claims of container %s: %w", containerID, err)
	}
	return list.Items, nil
}

// poolClaims lists the pool's claims of one type, as metadata only and from
// the watch cache: names and labels say all that is needed, and a stale list
// only costs a failed create.
func (c *Client) poolClaims(ctx context.Context, pool string, typ ipamv1alpha1.ClaimType) ([]metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(ipamv1alpha1.GroupVersion.WithKind("IPClaimList"))
	err := c.c.List(ctx, list,
		client.MatchingFields{ipamv1alpha1.FieldPool: pool, ipamv1alpha1.FieldType: string(typ)},
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}})
	if err != nil {
		return nil, fmt.Errorf("list the %s claims of pool %s: %w", typ, pool, err)
	}
	return list.Items, nil
}

// PoolBlocks implements allocator.Store.
func (c *Client) PoolBlocks(ctx context.Context, pool string) (map[netip.Prefix]string, error) {
	items, err := c.poolClaims(ctx, pool, ipamv1alpha1.ClaimTypeBlock)
	if err != nil {
		return nil, err
	}
	blocks := make(map[netip.Prefix]string, len(items))
	for _, item := range items {
		if p, err := ipamv1alpha1.PrefixFromBlockClaimName(item.Name); err == nil {
			blocks[p] = item.Labels[ipamv1alpha1.LabelNode]
		}
	}
	return blocks, nil
}

// PoolAddresses implements allocator.Store.
func (c *Client) PoolAddresses(ctx context.Context, pool string) ([]netip.Addr, error) {
	items, err := c.poolClaims(ctx, pool, ipamv1alpha1.ClaimTypeAddress)
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, 0, len(items))
	for _, item := range items {
		if a, err := ipamv1alpha1.AddressFromClaimName(item.Name); err == nil {
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

// Get implements allocator.Store with a consistent read.
func (c *Client) Get(ctx context.Context, name string) (*ipamv1alpha1.IPClaim, error) {
	claim := &ipamv1alpha1.IPClaim{}
	err := c.c.Get(ctx, client.ObjectKey{Name: name}, claim)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get claim %s: %w", name, allocator.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get claim %s: %w", name, err)
	}
	return claim, nil
}

// Create implements allocator.Store.
func (c *Client) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	err := c.c.Create(ctx, claim)
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create claim %s: %w", claim.Name, errors.Join(allocator.ErrAlreadyExists, err))
	}
	if err != nil {
		return fmt.Errorf("create claim %s: %w", claim.Name, err)
	}
	return nil
}

// Delete implements allocator.Store with a UID precondition: a claim that
// was released and claimed again by someone else is not touched.
func (c *Client) Delete(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	err := c.c.Delete(ctx, claim, client.Preconditions{UID: &claim.UID})
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete claim %s: %w", claim.Name, err)
}

// Ping checks that the API server answers and lets the plugin read pools.
func (c *Client) Ping(ctx context.Context) error {
	return c.c.List(ctx, &ipamv1alpha1.IPPoolList{}, client.Limit(1))
}
