// Command manager is the ipkeeper operator: it keeps IPPool status true,
// resolves overlapping pools, protects pools in use, marks invalid claims,
// collects leaked ones, runs the node agent on every node, keeps the
// node-claims admission policy in force, and serves the validating
// admission webhooks.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/controllers"
	"github.com/ipkeeper/ipkeeper/controllers/claimindex"
	"github.com/ipkeeper/ipkeeper/webhooks"
)

// version is stamped at build time (-ldflags -X main.version=...).
var version = "devel"

// options are the manager's command-line flags.
type options struct {
	metricsAddr    string
	secureMetrics  bool
	probeAddr      string
	pprofAddr      string
	leaderElect    bool
	webhookEnabled bool
	webhookPort    int
	webhookCertDir string
	controllers    controllers.Options
	zap            zap.Options
}

func parseFlags() options {
	var o options
	o.bind(flag.CommandLine, os.LookupEnv)
	o.zap.BindFlags(flag.CommandLine)
	flag.Parse()
	return o
}

// bind defines the manager's flags on fs. The flags that shape the node
// side default to environment variables as well (lookupEnv): an OLM
// Subscription's config can set a manager's environment, not its
// arguments, and a cluster whose nodes keep CNI elsewhere must say so.
func (o *options) bind(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) {
	env := func(name, fallback string) string {
		if v, ok := lookupEnv(name); ok {
			return v
		}
		return fallback
	}
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, to callers the API server authorises to get /metrics.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the liveness (/healthz) and readiness (/readyz) probes bind to.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address the Go profiler's endpoints (/debug/pprof/) bind to, to find where memory or CPU goes; empty or 0 disables them.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect one active controller among replicas; every replica serves the webhooks.")
	fs.BoolVar(&o.webhookEnabled, "webhook-enabled", true, "Serve the validating admission webhooks.")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Directory holding the webhook serving certificate (tls.crt, tls.key).")
	fs.DurationVar(&o.controllers.GCGracePeriod, "gc-grace-period", 60*time.Second, "How long a claim stays Orphaned, its pod gone, before it is released.")
	fs.DurationVar(&o.controllers.GCScanInterval, "gc-scan-interval", 10*time.Minute, "How often every claim is checked for a missing pod, besides pod-deletion events.")
	fs.StringVar(&o.controllers.Namespace, "namespace", "", "The operator's namespace; empty means the namespace of its service account (in a pod).")
	fs.StringVar(&o.controllers.NodeServiceAccount, "node-service-account", "ipkeeper-node", "The node agent's service account in the operator's namespace: the CNI plugin's only credential, bound by the admission policy to its node.")
	fs.StringVar(&o.controllers.Deployment, "deployment", "ipkeeper-controller-manager", "The operator's Deployment: it owns the node agent's DaemonSet, whose image defaults to the Deployment's.")
	fs.StringVar(&o.controllers.NodeAgent.Image, "node-agent-image", env("RELATED_IMAGE_CNI", ""), "Image of the node agent and the CNI plugin; $RELATED_IMAGE_CNI sets the default; empty means the operator's own image.")
	fs.StringVar(&o.controllers.NodeAgent.CNIBinDir, "cni-bin-dir", env("IPKEEPER_CNI_BIN_DIR", "/opt/cni/bin"), "The nodes' CNI binary directory, where the node agent installs the plugin; $IPKEEPER_CNI_BIN_DIR sets the default.")
	fs.StringVar(&o.controllers.NodeAgent.CNIConfDir, "cni-conf-dir", env("IPKEEPER_CNI_CONF_DIR", "/etc/cni/net.d"), "The nodes' CNI configuration directory, where the node agent writes the plugin's kubeconfig, in ipkeeper.d/; $IPKEEPER_CNI_CONF_DIR sets the default.")
	fs.StringVar(&o.controllers.NodeAgent.Server, "node-agent-server", env("IPKEEPER_NODE_AGENT_SERVER", ""), "The API server's URL the CNI plugin uses, where the nodes' host network cannot reach the kubernetes Service; empty means the Service; $IPKEEPER_NODE_AGENT_SERVER sets the default.")
	fs.StringVar(&o.controllers.NodeAgent.NetworkConfigMap, "network-config-map", env("IPKEEPER_NETWORK_CONFIG_MAP", "ipkeeper-network"), "ConfigMap in the operator's namespace whose network configurations the node agent installs on every node, when it exists; empty disables; $IPKEEPER_NETWORK_CONFIG_MAP sets the default.")
}

func main() {
	opts := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	ctrl.Log.WithName("setup").Info("Starting the ipkeeper operator", "version", version)
	if limit := setMemoryLimit(os.ReadFile); limit > 0 {
		ctrl.Log.WithName("setup").Info("Set the Go runtime's soft memory limit from the container's", "bytes", limit)
	}
	if err := run(ctrl.SetupSignalHandler(), opts); err != nil {
		ctrl.Log.WithName("setup").Error(err, "Manager stopped")
		os.Exit(1)
	}
}

// serviceAccountNamespace is where the kubelet mounts a pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// namespace returns the --namespace flag, or the namespace of the pod the
// manager runs in.
func namespace(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	data, err := os.ReadFile(serviceAccountNamespace)
	if err != nil || strings.TrimSpace(string(data)) == "" {
		return "", fmt.Errorf("cannot tell the operator's namespace (%s is not readable outside a pod): set --namespace", serviceAccountNamespace)
	}
	return strings.TrimSpace(string(data)), nil
}

func run(ctx context.Context, o options) error {
	ns, err := namespace(o.controllers.Namespace)
	if err != nil {
		return err
	}
	o.controllers.Namespace = ns
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := ipamv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	metrics := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.secureMetrics}
	if o.secureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	noHTTP2 := func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metrics,
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "ipkeeper.ipam.ipkeeper.dev",
		// The operator's namespace (--namespace, else the pod's): outside
		// a pod, controller-runtime would find none of its own.
		LeaderElectionNamespace: ns,
		// A replica stopped for node maintenance hands leadership over at
		// once instead of letting the lease run out.
		LeaderElectionReleaseOnCancel: true,
		// The cache holds every claim, pod and node: it keeps only what
		// the controllers and webhooks read.
		Cache: controllers.CacheOptions(ns),
		WebhookServer: webhook.NewServer(webhook.Options{
			Port: o.webhookPort, CertDir: o.webhookCertDir, TLSOpts: []func(*tls.Config){noHTTP2},
		}),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := claimindex.Register(ctx, mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := controllers.SetupWithManager(mgr, o.controllers); err != nil {
		return err
	}
	if err := setupWebhooks(mgr, o.webhookEnabled); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctx)
}

// setupWebhooks registers the webhooks and makes readiness wait for their
// server, so that a replica only receives admission traffic once it can
// answer it.
func setupWebhooks(mgr ctrl.Manager, enabled bool) error {
	if !enabled {
		return mgr.AddReadyzCheck("readyz", healthz.Ping)
	}
	if err := webhooks.SetupWithManager(mgr); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker())
}
