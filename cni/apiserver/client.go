// Package apiserver is the plugin's view of the Kubernetes API server
// (plugin.Cluster): the allocator's claim store, and the reads of pods,
// namespaces, nodes and pools that choose a pool. How its requests travel
// (one connection per call) is package transport's business. The plugin is
// a short-lived process, so there are no informers: each call is one
// request, answered from the API server's watch cache wherever a stale
// answer is harmless, and only the node's own objects are ever listed on
// the common path.
//
// It is built on client-go's REST and metadata clients rather than a typed
// client with a full scheme: a plugin process starts for every CNI call,
// and registering every built-in API group would cost more CPU than the
// call itself. Claims and pools travel as JSON decoded straight into their
// types: decoding into unstructured maps and converting them by reflection,
// as the dynamic client does, cost a warm ADD a fifth of its CPU time,
// most of it on the node's own claims.
package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/allocator"
	"github.com/ipkeeper/ipkeeper/cni/apiserver/transport"
)

var _ allocator.Store = (*Client)(nil)

// The resources the plugin uses.
var (
	claimsPath = []string{"/apis", ipamv1alpha1.GroupVersion.Group, ipamv1alpha1.GroupVersion.Version, "ipclaims"}
	poolsPath  = []string{"/apis", ipamv1alpha1.GroupVersion.Group, ipamv1alpha1.GroupVersion.Version, "ippools"}
	// The core resources are spelled out: importing k8s.io/api/core/v1
	// would cost every plugin process its initialisation.
	pods       = coreResource{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"}
	namespaces = coreResource{schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "Namespace"}
	nodes      = coreResource{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node"}
	claimsGVR  = ipamv1alpha1.GroupVersion.WithResource("ipclaims")
)

// The encoding of options as query parameters, as client-go's dynamic
// client has it.
var (
	optionsVersion = schema.GroupVersion{Version: "v1"}
	parameterCodec = func() runtime.ParameterCodec {
		scheme := runtime.NewScheme()
		metav1.AddToGroupVersion(scheme, optionsVersion)
		return runtime.NewParameterCodec(scheme)
	}()
)

// coreResource is a built-in resource the plugin reads the metadata of,
// with the kind its errors name.
type coreResource struct {
	gvr  schema.GroupVersionResource
	kind string
}

// Client talks to the API server for one CNI call.
type Client struct {
	rest rest.Interface
	meta metadata.Interface
	// reached is the API server's resourceVersion as of the last list that
	// it could not serve not older than the version asked for.
	reached atomic.Value
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

// New returns a Client for cfg. It makes no request: the resources it uses
// are known in advance, so no discovery is needed.
func New(cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "ipkeeper-cni"
	// A CNI call is a burst of a few requests; client-side throttling
	// would only add latency to pod start.
	cfg.QPS, cfg.Burst = -1, 0
	if err := transport.ShareOneConnection(cfg); err != nil {
		return nil, fmt.Errorf("create API client: %w", err)
	}
	// Errors decoded into API statuses, as the dynamic client does it, and
	// JSON in and out whatever client-go's defaults or feature gates say:
	// do decodes every answer as JSON.
	restCfg := dynamic.ConfigFor(cfg)
	restCfg.GroupVersion = nil
	restCfg.AcceptContentTypes, restCfg.ContentType = jsonContent, jsonContent
	restClient, err := rest.UnversionedRESTClientFor(restCfg)
	if err != nil {
		return nil, fmt.Errorf("create API client: %w", err)
	}
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create API client: %w", err)
	}
	return &Client{rest: restClient, meta: meta}, nil
}

// do sends one request to path with params as its query and body, and
// decodes the answer into into, unless it is nil.
func (c *Client) do(ctx context.Context, req *rest.Request, params runtime.Object, body []byte, into any) error {
	if params != nil {
		req = req.SpecificallyVersionedParams(params, parameterCodec, optionsVersion)
	}
	if body != nil {
		req = req.SetHeader("Content-Type", jsonContent).Body(body)
	}
	// Error, unlike Raw, decodes an error's body into the API status it
	// holds, with the reason and message a person needs.
	res := req.Do(ctx)
	if err := res.Error(); err != nil || into == nil {
		return err
	}
	raw, err := res.Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// jsonContent is the only media type the client sends and accepts.
const jsonContent = "application/json"

// path returns the path of a resource, or of the object called name.
func path(resource []string, name string) []string {
	if name == "" {
		return resource
	}
	return append(slices.Clone(resource), name)
}

// fromWatchCache asks for whatever the API server's watch cache holds, for
// reads where a slightly stale answer is harmless.
var fromWatchCache = metav1.GetOptions{ResourceVersion: "0"}

// PodMeta returns a pod's metadata, read consistently: the pod may have been
// created a moment ago. A missing pod is (nil, nil).
func (c *Client) PodMeta(ctx context.Context, namespace, name string) (*metav1.PartialObjectMetadata, error) {
	return c.objectMeta(ctx, pods, namespace, name, metav1.GetOptions{})
}

// NamespaceMeta returns a namespace's metadata, read consistently: its
// labels decide which pools the pod may use, and no webhook checks the
// plugin's claims. A missing namespace is (nil, nil).
func (c *Client) NamespaceMeta(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	return c.objectMeta(ctx, namespaces, "", name, metav1.GetOptions{})
}

// NodeMeta returns a node's metadata, read from the watch cache: its labels
// change seldom. A missing node is (nil, nil).
func (c *Client) NodeMeta(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	return c.objectMeta(ctx, nodes, "", name, fromWatchCache)
}

func (c *Client) objectMeta(ctx context.Context, resource coreResource, namespace, name string, opts metav1.GetOptions) (*metav1.PartialObjectMetadata, error) {
	obj, err := c.meta.Resource(resource.gvr).Namespace(namespace).Get(ctx, name, opts)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", resource.kind, objectName(namespace, name), err)
	}
	return obj, nil
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Pool returns a pool read consistently, or nil when it does not exist: the
// plugin's claims skip the webhook, so a pool just disabled, being deleted
// or given new exclusions must not look as it was. A GET by name is one
// key read from etcd, made beside the pod's, so it adds no round trip.
func (c *Client) Pool(ctx context.Context, name string) (*ipamv1alpha1.IPPool, error) {
	pool := &ipamv1alpha1.IPPool{}
	err := c.do(ctx, c.rest.Get().AbsPath(path(poolsPath, name)...), nil, nil, pool)
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
	selector := labels.SelectorFromSet(labels.Set{ipamv1alpha1.LabelNode: ipamv1alpha1.LabelValue(node)}).String()
	claims, err := c.listClaims(ctx, metav1.ListOptions{LabelSelector: selector}, notOlderThan)
	if err != nil {
		return nil, fmt.Errorf("list the claims of node %s: %w", node, err)
	}
	return claims, nil
}

// ContainerClaims lists the claims of a CNI container ID by field selector
// (spec.owner.containerID is a selectable field). It must not miss a claim
// the node created: like NodeClaims, it reads not older than the node's
// last write, or consistently.
func (c *Client) ContainerClaims(ctx context.Context, containerID, notOlderThan string) ([]ipamv1alpha1.IPClaim, error) {
	selector := fields.OneTermEqualSelector(ipamv1alpha1.FieldContainerID, containerID).String()
	claims, err := c.listClaims(ctx, metav1.ListOptions{FieldSelector: selector}, notOlderThan)
	if err != nil {
		return nil, fmt.Errorf("list the claims of container %s: %w", containerID, err)
	}
	return claims, nil
}

// notOlderThanWait bounds how long the watch cache may take to reach the
// node's last write. It normally has it within milliseconds; the API server
// would otherwise wait for a version it never reaches until the request
// times out.
const notOlderThanWait = time.Second

// listClaims lists claims not older than a resourceVersion, or
// consistently when there is none or the watch cache does not reach it in
// time: the cache lags, or the node remembers a write newer than anything
// the API server has (the cluster was restored or rebuilt under it).
func (c *Client) listClaims(ctx context.Context, opts metav1.ListOptions, notOlderThan string) ([]ipamv1alpha1.IPClaim, error) {
	if notOlderThan != "" {
		waitCtx, cancel := context.WithTimeout(ctx, notOlderThanWait)
		fresh := opts
		fresh.ResourceVersion, fresh.ResourceVersionMatch = notOlderThan, metav1.ResourceVersionMatchNotOlderThan
		list, err := c.list(waitCtx, &fresh)
		cancel()
		if err == nil || ctx.Err() != nil {
			return list.Items, err
		}
	}
	list, err := c.list(ctx, &opts)
	if err == nil && notOlderThan != "" {
		c.reached.Store(list.ResourceVersion)
	}
	return list.Items, err
}

// Reached implements plugin.Cluster: the resourceVersion of the last
// consistent list made because a list not older than a remembered version
// did not come in time, or "" when there was none.
func (c *Client) Reached() string {
	rv, _ := c.reached.Load().(string)
	return rv
}

// list lists claims.
func (c *Client) list(ctx context.Context, opts *metav1.ListOptions) (*ipamv1alpha1.IPClaimList, error) {
	list := &ipamv1alpha1.IPClaimList{}
	err := c.do(ctx, c.rest.Get().AbsPath(claimsPath...), opts, nil, list)
	return list, err
}

// poolClaims lists the pool's claims of one type, as metadata only and from
// the watch cache: names and labels say all that is needed, and a stale list
// only costs a failed create.
func (c *Client) poolClaims(ctx context.Context, pool string, typ ipamv1alpha1.ClaimType) ([]metav1.PartialObjectMetadata, error) {
	selector := fields.SelectorFromSet(fields.Set{ipamv1alpha1.FieldPool: pool, ipamv1alpha1.FieldType: string(typ)}).String()
	list, err := c.meta.Resource(claimsGVR).List(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: "0"})
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
		if p, err := ipspace.PrefixFromBlockClaimName(item.Name); err == nil {
			blocks[p] = item.Labels[ipamv1alpha1.LabelNode]
		}
	}
	return blocks, nil
}

// BlockAddresses implements allocator.Store: the Address claims labelled
// with the block, as metadata only and from the watch cache, like
// poolClaims. Their names are their addresses.
func (c *Client) BlockAddresses(ctx context.Context, block netip.Prefix) ([]netip.Addr, error) {
	selector := labels.SelectorFromSet(labels.Set{ipamv1alpha1.LabelBlock: ipspace.BlockClaimName(block)}).String()
	list, err := c.meta.Resource(claimsGVR).List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("list the claims of block %s: %w", block, err)
	}
	addrs := make([]netip.Addr, 0, len(list.Items))
	for _, item := range list.Items {
		if a, err := ipspace.AddressFromClaimName(item.Name); err == nil {
			addrs = append(addrs, a)
		}
	}
	return addrs, nil
}

// Get implements allocator.Store with a consistent read.
func (c *Client) Get(ctx context.Context, name string) (*ipamv1alpha1.IPClaim, error) {
	claim := &ipamv1alpha1.IPClaim{}
	err := c.do(ctx, c.rest.Get().AbsPath(path(claimsPath, name)...), nil, nil, claim)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get claim %s: %w", name, allocator.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get claim %s: %w", name, err)
	}
	return claim, nil
}

// Create implements allocator.Store. It fills in the claim's metadata from
// the API server's answer (uid, resourceVersion).
func (c *Client) Create(ctx context.Context, claim *ipamv1alpha1.IPClaim) error {
	claim.APIVersion, claim.Kind = ipamv1alpha1.GroupVersion.String(), "IPClaim"
	body, err := json.Marshal(claim)
	if err == nil {
		err = c.do(ctx, c.rest.Post().AbsPath(claimsPath...), &metav1.CreateOptions{}, body, claim)
	}
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
	opts := metav1.DeleteOptions{
		TypeMeta:      metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		Preconditions: metav1.NewUIDPreconditions(string(claim.UID)),
	}
	body, err := json.Marshal(&opts)
	if err == nil {
		err = c.do(ctx, c.rest.Delete().AbsPath(path(claimsPath, claim.Name)...), nil, body, nil)
	}
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("delete claim %s: %w", claim.Name, err)
}

// Ping checks that the API server answers and lets the plugin read pools.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, c.rest.Get().AbsPath(poolsPath...), &metav1.ListOptions{Limit: 1}, nil, nil)
}
