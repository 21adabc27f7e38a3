package main

import (
	"flag"
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
	}
	for _, c := range []struct {
		name                              string
		environment                       map[string]string
		args                              []string
		binDir, confDir, configMap, image string
	}{
		{name: "defaults", binDir: "/opt/cni/bin", confDir: "/etc/cni/net.d", configMap: "ipkeeper-network"},
		{name: "environment", environment: subscription,
			binDir: "/var/lib/cni/bin", confDir: "/etc/kubernetes/cni/net.d", image: "registry.example/ipkeeper:v2"},
		{name: "arguments", environment: subscription, args: []string{"--cni-bin-dir=/x/bin", "--network-config-map=mine"},
			binDir: "/x/bin", confDir: "/etc/kubernetes/cni/net.d", configMap: "mine", image: "registry.example/ipkeeper:v2"},
	} {
		var o options
		fs := flag.NewFlagSet("manager", flag.ContinueOnError)
		o.bind(fs, func(name string) (string, bool) { v, ok := c.environment[name]; return v, ok })
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		a := o.controllers.NodeAgent
		if a.CNIBinDir != c.binDir || a.CNIConfDir != c.confDir || a.NetworkConfigMap != c.configMap || a.Image != c.image {
			t.Errorf("%s: bin %q, conf %q, ConfigMap %q, image %q; want %q, %q, %q, %q",
				c.name, a.CNIBinDir, a.CNIConfDir, a.NetworkConfigMap, a.Image, c.binDir, c.confDir, c.configMap, c.image)
		}
	}
}
