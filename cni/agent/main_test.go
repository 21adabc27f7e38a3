package main

import (
	"strings"
	"testing"

	"github.com/ipkeeper/ipkeeper/cni/nodeagent"
)

// TestVersionFromEnv reads the agent's place among the agents of its node
// from the variables its DaemonSet sets, unless a flag gave it: unset is
// 0, a number is itself, anything else an error naming the variable and
// where the DaemonSet takes it from.
func TestVersionFromEnv(t *testing.T) {
	for _, c := range []struct {
		name, epoch, generation string
		given                   map[string]bool
		flags, want             nodeagent.Version
		wantErr                 string
	}{
		{name: "unset"},
		{name: "set", epoch: "1796000000123456789", generation: "7", want: nodeagent.Version{Epoch: 1796000000123456789, Generation: 7}},
		{name: "not a number", epoch: "yesterday", generation: "7",
			wantErr: `NODE_AGENT_EPOCH="yesterday" is not a number: the node agent's DaemonSet sets it from the pod template's annotation ipkeeper.dev/node-agent-epoch`},
		{name: "flags win", epoch: "yesterday", generation: "x", given: map[string]bool{"epoch": true, "generation": true},
			flags: nodeagent.Version{Epoch: 5, Generation: 2}, want: nodeagent.Version{Epoch: 5, Generation: 2}},
	} {
		t.Setenv("NODE_AGENT_EPOCH", c.epoch)
		t.Setenv("POD_TEMPLATE_GENERATION", c.generation)
		v := c.flags
		err := versionFromEnv(&v, c.given)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
		case c.wantErr == "" && (err != nil || v != c.want):
			t.Errorf("%s: %+v, %v; want %+v", c.name, v, err, c.want)
		}
	}
}
