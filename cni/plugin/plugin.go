// Package plugin carries out the CNI verbs of the ipkeeper IPAM plugin:
// it reads what a call needs from the cluster (the small Cluster interface,
// served by the API server in production and by Fake in tests), chooses
// pools, takes the node's lock, lets the allocator create claims and turns
// them into a CNI result. Every error it returns is a CNI error; errors.go
// gives the pool choice's and the allocator's failures their codes.
// cni/main.go is only the skel glue around it.
package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/ipkeeper/ipkeeper/cni/apiserver"
	"github.com/ipkeeper/ipkeeper/cni/cnierr"
	"github.com/ipkeeper/ipkeeper/cni/netconf"
	"github.com/ipkeeper/ipkeeper/cni/nodestate"
)

// Plugin is one CNI call's configuration and connections.
type Plugin struct {
	Config *netconf.Config
	// Node is the name of the node the plugin runs on.
	Node string
	// Cluster is where the claims are made and the pools read.
	Cluster Cluster
}

// Load parses the network configuration of a call, finds the node's name
// and prepares the API client. Every error is a CNI error: 7 for a
// configuration that cannot work as written.
func Load(stdin []byte) (*Plugin, error) {
	cfg, err := netconf.Parse(stdin)
	if err != nil {
		return nil, cnierr.BadConfig(err)
	}
	node, err := nodeName(cfg.IPAM)
	if err != nil {
		return nil, cnierr.BadConfig(err)
	}
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		return nil, cnierr.BadConfig(fmt.Errorf("node name %q is not a Kubernetes node name (%s): set ipam.nodeName", node, strings.Join(errs, "; ")))
	}
	restCfg, err := apiserver.LoadConfig(cfg.IPAM.Kubeconfig, cfg.TimeoutDuration)
	if err != nil {
		return nil, cnierr.BadConfig(fmt.Errorf("%w: the node agent writes it; check ipam.kubeconfig", err))
	}
	return New(cfg, node, restCfg)
}

// New returns a Plugin for a parsed configuration that talks to the API
// server restCfg describes.
func New(cfg *netconf.Config, node string, restCfg *rest.Config) (*Plugin, error) {
	client, err := apiserver.New(restCfg)
	if err != nil {
		return nil, cnierr.BadConfig(err)
	}
	return &Plugin{Config: cfg, Node: node, Cluster: client}, nil
}

// nodeName returns ipam.nodeName, else the name the node agent wrote
// beside the kubeconfig, else the host name (lower-cased, as the kubelet
// does).
func nodeName(ipam netconf.IPAM) (string, error) {
	if ipam.NodeName != "" {
		return ipam.NodeName, nil
	}
	file := filepath.Join(filepath.Dir(ipam.Kubeconfig), netconf.NodeNameFile)
	if data, err := os.ReadFile(file); err == nil {
		if name := strings.TrimSpace(string(data)); name != "" {
			return name, nil
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "", fmt.Errorf("cannot tell this node's name: set ipam.nodeName, or write it to %s", file)
	}
	return strings.ToLower(host), nil
}

// Context returns the context of a call, bounded by ipam.timeout.
func (p *Plugin) Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), p.Config.TimeoutDuration)
}

// stateDir opens this node's lock and state files.
func (p *Plugin) stateDir() (*nodestate.Dir, error) {
	return nodestate.Open(p.Config.IPAM.DataDir, p.Node)
}

// podArgs are the Kubernetes fields of CNI_ARGS.
type podArgs struct {
	Namespace, Name, UID string
}

// parsePodArgs reads K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID from
// CNI_ARGS; a runtime that is not Kubernetes sends none of them.
func parsePodArgs(args *skel.CmdArgs) (podArgs, error) {
	var pod podArgs
	for _, pair := range strings.Split(args.Args, ";") {
		if pair == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return podArgs{}, cnierr.New(types.ErrInvalidEnvironmentVariables, "CNI_ARGS %q is not a list of KEY=VALUE pairs separated by ';'", args.Args)
		}
		switch key {
		case "K8S_POD_NAMESPACE":
			pod.Namespace = value
		case "K8S_POD_NAME":
			pod.Name = value
		case "K8S_POD_UID":
			pod.UID = value
		}
	}
	if (pod.Namespace == "") != (pod.Name == "") {
		return podArgs{}, cnierr.New(types.ErrInvalidEnvironmentVariables, "CNI_ARGS names K8S_POD_NAMESPACE %q and K8S_POD_NAME %q: give both or neither", pod.Namespace, pod.Name)
	}
	return pod, nil
}

// isKubernetes reports whether the runtime named a pod.
func (a podArgs) isKubernetes() bool { return a.Name != "" }
