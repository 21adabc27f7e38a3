package main

import (
	"flag"
	"slices"
	"testing"
)

// TestNodeSideFlagsDefaultToTheEnvironment sets the node side through the
// manager's environment, as an OLM Subscription's config can: the
// variables are the defaults, an empty one (the ConfigMap) counts, and an
// argument wins over the environment.
func TestNodeSideFlagsDefaultToTheEnvironment(t *testing.T) {
	subscription := map[string]string{
		"RELATED_IMAGE_CNI":           "registry.example/ipkeeper:v2",
		"IPKEEPER_CNI_BIN_DIR":        "/var/lib/cni/bin",
		"IPKEEPER_CNI_CONF_DIR":       "/etc/kubernetes/cni/net.d",
		"IPKEEPER_NETWORK_CONFIG_MAP": "",
		"IPKEEPER_NODE_AGENT_SERVER":  "https://10.0.0.10:6443",
	}
	for _, c := range []struct {
		name                                      string
		environment                               map[string]string
		args                                      []string
		binDir, confDir, configMap, image, server string
	}{
		{name: "defaults", binDir: "/opt/cni/bin", confDir: "/etc/cni/net.d", configMap: "ipkeeper-network"},
		{name: "environment", environment: subscription,
			binDir: "/var/lib/cni/bin", confDir: "/etc/kubernetes/cni/net.d", image: "registry.example/ipkeeper:v2", server: "https://10.0.0.10:6443"},
		{name: "arguments", environment: subscription, args: []string{"--cni-bin-dir=/x/bin", "--network-config-map=mine", "--node-agent-server=https://api.example:6443"},
			binDir: "/x/bin", confDir: "/etc/kubernetes/cni/net.d", configMap: "mine", image: "registry.example/ipkeeper:v2", server: "https://api.example:6443"},
	} {
		var o options
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		o.bind(fs, func(name string) (string, bool) { v, ok := c.environment[name]; return v, ok })
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		a := o.controllers.NodeAgent
		got := []string{a.CNIBinDir, a.CNIConfDir, a.NetworkConfigMap, a.Image, a.Server}
		if want := []string{c.binDir, c.confDir, c.configMap, c.image, c.server}; !slices.Equal(got, want) {
			t.Errorf("%s: bin dir, conf dir, ConfigMap, image, server = %q; want %q", c.name, got, want)
		}
	}
}
