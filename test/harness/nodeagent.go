package harness

import (
	"os/exec"
	"strconv"

	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
)

// NodeAgentCommand returns the command that runs the node agent's binary
// with cfg, as its DaemonSet pod runs it with the node's paths.
func NodeAgentCommand(binary string, cfg nodeagent.Config) *exec.Cmd {
	return exec.Command(binary,
		"--node-name="+cfg.NodeName, "--server="+cfg.Server, "--token-file="+cfg.TokenFile, "--ca-file="+cfg.CAFile,
		"--plugin="+cfg.PluginSource, "--cni-bin-dir="+cfg.CNIBinDir, "--cni-conf-dir="+cfg.CNIConfDir,
		"--interval="+cfg.Interval.String(),
		"--epoch="+strconv.FormatInt(cfg.Version.Epoch, 10), "--generation="+strconv.FormatInt(cfg.Version.Generation, 10))
}
