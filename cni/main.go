// Command ipkeeper is a CNI IPAM plugin (CNI 0.3.0 to 1.1.0). It reserves
// pod addresses by creating IPClaims on the Kubernetes API server, whose
// name uniqueness guarantees that no address is ever handed out twice.
package main

import (
	"context"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	cniversion "github.com/containernetworking/cni/pkg/version"
	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/ipkeeper/ipkeeper/cni/plugin"
)

// version is stamped at build time (-ldflags -X main.version=...).
var version = "devel"

// supportedVersions are the CNI specification versions ipkeeper speaks.
var supportedVersions = cniversion.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

func main() {
	silenceClientGo()
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    cmdDel,
		Check:  cmdCheck,
		GC:     cmdGC,
		Status: cmdStatus,
	}, supportedVersions, "ipkeeper "+version+": Kubernetes IP address management through the API server")
}

// silenceClientGo keeps client-go from writing to stderr, where the
// runtime expects nothing but what the plugin means to say: everything that
// went wrong is in the CNI error result. client-go logs through klog, and
// prints the API server's warnings.
func silenceClientGo() {
	klog.SetLogger(logr.Discard())
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
}

// run loads the plugin for one call and runs verb within ipam.timeout.
func run(args *skel.CmdArgs, verb func(context.Context, *plugin.Plugin) error) error {
	p, err := plugin.Load(args.StdinData)
	if err != nil {
		return err
	}
	ctx, cancel := p.Context()
	defer cancel()
	return verb(ctx, p)
}

func cmdAdd(args *skel.CmdArgs) error {
	return run(args, func(ctx context.Context, p *plugin.Plugin) error {
		result, err := p.Add(ctx, args)
		if err != nil {
			return err
		}
		return types.PrintResult(result, p.Config.Network.CNIVersion)
	})
}

func cmdDel(args *skel.CmdArgs) error {
	return run(args, func(ctx context.Context, p *plugin.Plugin) error { return p.Del(ctx, args) })
}

func cmdCheck(args *skel.CmdArgs) error {
	return run(args, func(ctx context.Context, p *plugin.Plugin) error { return p.Check(ctx, args) })
}

func cmdGC(args *skel.CmdArgs) error {
	return run(args, func(ctx context.Context, p *plugin.Plugin) error { return p.GC(ctx) })
}

// cmdStatus answers whether the plugin can work on this node; see
// plugin.StatusError for a configuration that does not load yet.
func cmdStatus(args *skel.CmdArgs) error {
	return plugin.StatusError(run(args, func(ctx context.Context, p *plugin.Plugin) error { return p.Status(ctx) }))
}
