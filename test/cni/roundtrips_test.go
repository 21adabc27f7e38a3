package cni

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/netconf"
	"github.com/ipkeeper/ipkeeper/cni/plugin"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// request is one HTTP request a plugin call made.
type request struct {
	method, path, query string
	start, end          time.Time
}

// recorder records the requests made through a rest.Config.
type recorder struct {
	mu       sync.Mutex
	requests []request
}

// addedLatency is added to every recorded request, as a network between
// node and API server would: requests sent in parallel then overlap in time
// even when a busy machine starts one of them a little late, and requests
// sent one after the other still never do.
const addedLatency = 50 * time.Millisecond

func (r *recorder) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			start := time.Now()
			time.Sleep(addedLatency)
			resp, err := rt.RoundTrip(req)
			r.mu.Lock()
			r.requests = append(r.requests, request{req.Method, req.URL.Path, req.URL.RawQuery, start, time.Now()})
			r.mu.Unlock()
			return resp, err
		})
	})
	return cfg
}

// waves counts round trips of latency: requests that overlap in time are
// one wave, a request that starts after all earlier ones ended begins the
// next.
func (r *recorder) waves() int {
	reqs := append([]request(nil), r.requests...)
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].start.Before(reqs[j].start) })
	waves := 0
	var lastEnd time.Time
	for _, req := range reqs {
		if req.start.After(lastEnd) {
			waves++
		}
		if req.end.After(lastEnd) {
			lastEnd = req.end
		}
	}
	return waves
}

func (r *recorder) summary() string {
	var lines []string
	for _, req := range r.requests {
		lines = append(lines, req.method+" "+req.path+"?"+req.query)
	}
	return strings.Join(lines, "\n")
}

// recordedPlugin returns the plugin of the network configuration conf on
// node, as an administrator, and the recorder of its requests.
func recordedPlugin(t *testing.T, conf, node string) (*plugin.Plugin, *recorder) {
	t.Helper()
	cfg, err := netconf.Parse([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	p, err := plugin.New(cfg, node, rec.wrap(env.Config))
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestWarmADDRoundTrips measures the warm path of the design's budget: once
// the node holds a block with free addresses, a dual-stack ADD for a pod
// waits for two round trips (the pod, its namespace, the pools and the
// node's claims in parallel; the creates in parallel) and reads nothing
// whose size grows with the pool or the cluster.
func TestWarmADDRoundTrips(t *testing.T) {
	env.CreateReadyPool(t, "warm-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.89.0.0/16"})
	env.CreateReadyPool(t, "warm-v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00:89::/64"})
	conf := `{"cniVersion":"1.1.0","name":"warmnet","ipam":{"type":"ipkeeper","pools":["warm-v4","warm-v6"],` +
		`"nodeName":"node-warm","dataDir":"` + t.TempDir() + `"}}`
	env.CreateNode(t, "node-warm")
	addOnce := func(containerID string) *recorder {
		pod := env.CreatePod(t, "warm", containerID, nil)
		p, rec := recordedPlugin(t, conf, "node-warm")
		args := &skel.CmdArgs{ContainerID: containerID, IfName: "eth0",
			Args: "K8S_POD_NAMESPACE=warm;K8S_POD_NAME=" + containerID + ";K8S_POD_UID=" + string(pod.UID)}
		if _, err := p.Add(context.Background(), args); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	addOnce("cold") // claims a block in each pool
	for _, id := range []string{"warm-1", "warm-2", "warm-3"} {
		rec := addOnce(id)
		if got := len(rec.requests); got != 7 {
			t.Fatalf("a warm dual-stack ADD made %d requests, want 7 (pod, namespace, 2 pools, node's claims, 2 creates):\n%s", got, rec.summary())
		}
		if got := rec.waves(); got > 2 {
			t.Fatalf("a warm dual-stack ADD waited for %d round trips, want at most 2:\n%s", got, rec.summary())
		}
		for _, req := range rec.requests {
			if req.method == http.MethodGet && strings.HasSuffix(req.path, "/ipclaims") && req.query != "labelSelector=ipam.ipkeeper.dev%2Fnode%3Dnode-warm" &&
				!strings.HasPrefix(req.query, "labelSelector=ipam.ipkeeper.dev%2Fnode%3Dnode-warm&resourceVersion=") {
				t.Fatalf("a warm ADD listed claims with %q; want only the node's own", req.query)
			}
		}
	}
}

// TestRememberedVersionAheadOfTheCluster: a node whose data dir remembers a
// resourceVersion the API server has not reached (the cluster was restored
// or rebuilt under it) still allocates, and remembers a real one after.
func TestRememberedVersionAheadOfTheCluster(t *testing.T) {
	env.CreateReadyPool(t, "ahead", ipamv1alpha1.IPPoolSpec{CIDR: "10.90.0.0/24"})
	n := newNode(t, "node-ahead")
	state := remember(t, n, "ahead", `{"resourceVersion":"999999999999"}`)
	add(t, n, harness.IPAMNetwork("aheadnet", n.ipamConfig("ahead")), harness.RuntimeConf("c-ahead", nil))
	data, err := os.ReadFile(state)
	if err != nil || strings.Contains(string(data), "999999999999") {
		t.Fatalf("state after the ADD: %s, %v; want the new claim's resourceVersion", data, err)
	}
}

// TestVersionsOfAnotherClusterAreForgotten: a node whose data dir
// remembers a resourceVersion this API server never issued, of a pool the
// cluster does not have (it was rebuilt under the node with other pools),
// waits for it once, on the DEL that asks for it, and then forgets it, so
// that later DELs do not wait for it again.
func TestVersionsOfAnotherClusterAreForgotten(t *testing.T) {
	env.CreateReadyPool(t, "rebuilt", ipamv1alpha1.IPPoolSpec{CIDR: "10.91.0.0/24"})
	n := newNode(t, "node-rebuilt")
	gone := remember(t, n, "gone-pool", `{"resourceVersion":"999999999999","poolUID":"uid-of-another-cluster"}`)
	list := harness.IPAMNetwork("rebuiltnet", n.ipamConfig("rebuilt"))
	rt := harness.RuntimeConf("c-rebuilt", nil)
	add(t, n, list, rt)
	// A DEL the runtime has no result of (its cache was lost) lists the
	// container's claims, not older than every version the node remembers.
	uncached := harness.RuntimeConf("c-rebuilt-uncached", nil)
	if err := n.cni.DelNetworkList(context.Background(), list, uncached); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(gone)
	if err != nil || strings.Contains(string(data), "999999999999") {
		t.Fatalf("state of the other cluster's pool after a DEL: %s, %v; want its version forgotten", data, err)
	}
	if err := n.cni.DelNetworkList(context.Background(), list, rt); err != nil {
		t.Fatal(err)
	}
}

// TestDELReadsTheClaimsOfItsPrevResultByName: a DEL given the result of
// its ADD as prevResult, as runtimes pass it, reads the claims of its
// addresses by name and lists nothing (a list by field costs the API
// server a look at every claim of the cluster), and releases them.
func TestDELReadsTheClaimsOfItsPrevResultByName(t *testing.T) {
	env.CreateReadyPool(t, "byname-v4", ipamv1alpha1.IPPoolSpec{CIDR: "10.92.0.0/24"})
	env.CreateReadyPool(t, "byname-v6", ipamv1alpha1.IPPoolSpec{CIDR: "fd00:92::/64"})
	env.CreateNode(t, "node-byname")
	pod := env.CreatePod(t, "byname", "web", nil)
	conf := `{"cniVersion":"1.1.0","name":"bynamenet","ipam":{"type":"ipkeeper","pools":["byname-v4","byname-v6"],` +
		`"nodeName":"node-byname","dataDir":"` + t.TempDir() + `"}`
	args := &skel.CmdArgs{ContainerID: "c-byname", IfName: "eth0",
		Args: "K8S_POD_NAMESPACE=byname;K8S_POD_NAME=web;K8S_POD_UID=" + string(pod.UID)}
	run := func(conf string, verb func(*plugin.Plugin) error) *recorder {
		p, rec := recordedPlugin(t, conf, "node-byname")
		if err := verb(p); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	var result []byte
	run(conf+"}", func(p *plugin.Plugin) error {
		res, err := p.Add(context.Background(), args)
		if err == nil {
			result, err = json.Marshal(res)
		}
		return err
	})
	rec := run(conf+`,"prevResult":`+string(result)+"}", func(p *plugin.Plugin) error { return p.Del(context.Background(), args) })
	for _, req := range rec.requests {
		if req.method == http.MethodGet && strings.HasSuffix(req.path, "/ipclaims") {
			t.Fatalf("a DEL with prevResult listed claims (%s):\n%s", req.query, rec.summary())
		}
	}
	if got := len(rec.requests); got != 4 {
		t.Fatalf("a dual-stack DEL with prevResult made %d requests, want 4 (2 reads by name, 2 deletes):\n%s", got, rec.summary())
	}
	var left ipamv1alpha1.IPClaimList
	if err := env.Client.List(context.Background(), &left, client.MatchingFields{ipamv1alpha1.FieldContainerID: "c-byname"}); err != nil || len(left.Items) != 0 {
		t.Fatalf("claims of the container after its DEL: %d, %v; want none", len(left.Items), err)
	}
}

// remember writes what node n's data dir remembers of pool, as the plugin
// keeps it, and returns the file's path.
func remember(t *testing.T, n *node, pool, state string) string {
	t.Helper()
	path := filepath.Join(n.dataDir, n.name, pool+".state")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
