package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestRunStepsCountsFailures checks what decides the demo's exit status:
// a failed step is counted and the next ones still run, a fatal one stops
// the run, an interrupt counts as a failure, and any failure is status 1.
func TestRunStepsCountsFailures(t *testing.T) {
	var ran []string
	do := func(name string, err error) step {
		return step{title: name, run: func(context.Context) error { ran = append(ran, name); return err }}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		steps      []step
		wantFailed int
		wantRan    string
	}{
		{"all ok", context.Background(), []step{do("a", nil), do("b", nil)}, 0, "a b"},
		{"one fails, the rest run", context.Background(), []step{do("a", errors.New("no")), do("b", nil)}, 1, "a b"},
		{"a fatal failure stops the run", context.Background(), []step{do("a", fatal(errors.New("no"))), do("b", nil)}, 1, "a"},
		{"interrupted", cancelled, []step{do("a", nil)}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = nil
			failed := runSteps(tt.ctx, io.Discard, tt.steps)
			if failed != tt.wantFailed || strings.Join(ran, " ") != tt.wantRan {
				t.Errorf("failed %d after running %q, want %d after %q", failed, ran, tt.wantFailed, tt.wantRan)
			}
			if want := min(tt.wantFailed, 1); exitStatus(failed) != want {
				t.Errorf("exit status %d, want %d", exitStatus(failed), want)
			}
		})
	}
}
