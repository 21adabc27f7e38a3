package controllers

import (
	"slices"
	"strings"
	"testing"
)

// TestNodeAgentServer gives the plugin an API server address of its own,
// for nodes whose host network cannot reach the kubernetes Service: the
// agent is told it; without one it uses the Service's.
func TestNodeAgentServer(t *testing.T) {
	argsWith := func(server string) []string {
		ds := nodeAgentDaemonSet("ipkeeper-system", "1", NodeAgentOptions{Image: "ipkeeper:v1", Server: server})
		return ds.Spec.Template.Spec.Containers[0].Args
	}
	if args := argsWith("https://10.0.0.10:6443"); !slices.Contains(args, "--server=https://10.0.0.10:6443") {
		t.Errorf("the agent's arguments %q do not name the server", args)
	}
	setsServer := func(arg string) bool { return strings.HasPrefix(arg, "--server=") }
	if args := argsWith(""); slices.ContainsFunc(args, setsServer) {
		t.Errorf("with no server, the agent's arguments %q still set one", args)
	}
}
