// Command ipkeeper-agent is the ipkeeper node agent: the operator runs it on
// every node (a DaemonSet) to install the CNI plugin, its kubeconfig and
// node name, and optionally a network configuration, and to rewrite the
// kubeconfig whenever the kubelet rotates the agent's token. See package
// cni/nodeagent.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
)

// version is stamped at build time (-ldflags -X main.version=...).
var version = "devel"

func main() {
	cfg, check, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if check {
		if err := nodeagent.Ready(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "not ready:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logf("Starting", "version", version, "node", cfg.NodeName)
	if err := nodeagent.Run(ctx, cfg, logf); err != nil {
		logf("Stopped", "error", err)
		os.Exit(1)
	}
}

// parseFlags returns the agent's configuration, and whether it is asked
// only to check that its work is in place (its readiness probe).
func parseFlags() (nodeagent.Config, bool, error) {
	var cfg nodeagent.Config
	var check bool
	flag.StringVar(&cfg.NodeName, "node-name", os.Getenv("NODE_NAME"), "This node's name (default $NODE_NAME, from the downward API).")
	flag.StringVar(&cfg.Server, "server", inClusterServer(), "The API server's URL for the plugin (default from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT).")
	flag.StringVar(&cfg.TokenFile, "token-file", "/var/run/secrets/ipkeeper/token", "The projected service-account token.")
	flag.StringVar(&cfg.CAFile, "ca-file", "/var/run/secrets/ipkeeper/ca.crt", "The cluster's CA certificate.")
	flag.StringVar(&cfg.PluginSource, "plugin", "/ipkeeper", "The CNI plugin binary to install.")
	flag.StringVar(&cfg.CNIBinDir, "cni-bin-dir", "/host/opt/cni/bin", "The node's CNI binary directory, as mounted.")
	flag.StringVar(&cfg.CNIConfDir, "cni-conf-dir", "/host/etc/cni/net.d", "The node's CNI configuration directory, as mounted.")
	flag.StringVar(&cfg.NetworkConfigDir, "network-config-dir", "", "A directory of network configurations to install (a mounted ConfigMap); empty installs none.")
	flag.DurationVar(&cfg.Interval, "interval", 10*time.Second, "How often to look for a rotated token or a changed configuration.")
	flag.Int64Var(&cfg.Version.Epoch, "epoch", 0, "When the operator created the agent's DaemonSet, in Unix nanoseconds (default $NODE_AGENT_EPOCH): the agents of a later DaemonSet supersede those of an earlier one.")
	flag.Int64Var(&cfg.Version.Generation, "generation", 0, "The pod-template generation of the agent's DaemonSet pod (default $POD_TEMPLATE_GENERATION): only the newest agent on a node writes.")
	flag.BoolVar(&check, "check", false, "Only check that the plugin is installed and its kubeconfig holds this agent's token: exit 0 if so (the readiness probe).")
	flag.Parse()
	err := versionFromEnv(&cfg.Version, given())
	return cfg, check, err
}

// given returns the names of the flags set on the command line.
func given() map[string]bool {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// versionFromEnv fills in the parts of v that no flag gave (given) from
// the variables the agent's DaemonSet sets from its pod.
func versionFromEnv(v *nodeagent.Version, given map[string]bool) error {
	var err error
	if !given["epoch"] {
		if v.Epoch, err = int64FromEnv("NODE_AGENT_EPOCH", "the pod template's annotation ipkeeper.dev/node-agent-epoch"); err != nil {
			return err
		}
	}
	if !given["generation"] {
		v.Generation, err = int64FromEnv("POD_TEMPLATE_GENERATION", "the pod's label pod-template-generation")
	}
	return err
}

// int64FromEnv returns the number in the environment variable name, 0 when
// it is unset or empty. A value that is not a number is an error, naming
// source, where the DaemonSet takes it from: the agent's place among the
// agents of its node would be wrong.
func int64FromEnv(name, source string) (int64, error) {
	value := os.Getenv(name)
	if value == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number: the node agent's DaemonSet sets it from %s, which the operator manages; let the operator put its DaemonSet back", name, value, source)
	}
	return n, nil
}

// inClusterServer returns the API server's URL as a pod sees it.
func inClusterServer() string {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return ""
	}
	return "https://" + net.JoinHostPort(host, port)
}

// logf writes one log line: a message and key/value pairs.
func logf(msg string, keysAndValues ...any) {
	line := time.Now().UTC().Format(time.RFC3339) + " " + msg
	for i := 0; i+1 < len(keysAndValues); i += 2 {
		line += fmt.Sprintf(" %v=%q", keysAndValues[i], fmt.Sprint(keysAndValues[i+1]))
	}
	fmt.Fprintln(os.Stderr, line)
}
