package main

import (
	"strings"
	"testing"
)

// TestInt64FromEnv reads the agent's place among the agents of its node
// from the variables its DaemonSet sets: unset is 0, a number is itself,
// anything else an error naming the variable.
func TestInt64FromEnv(t *testing.T) {
	for _, c := range []struct {
		value   string
		want    int64
		wantErr string
	}{
		{value: "", want: 0},
		{value: "1796000000123456789", want: 1796000000123456789},
		{value: "7", want: 7},
		{value: "yesterday", wantErr: `NODE_AGENT_EPOCH="yesterday" is not a number`},
	} {
		t.Setenv("NODE_AGENT_EPOCH", c.value)
		got, err := int64FromEnv("NODE_AGENT_EPOCH")
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: error %v, want %q", c.value, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("%q: %d, %v; want %d", c.value, got, err, c.want)
		}
	}
}
