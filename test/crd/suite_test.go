// Package crd tests the generated CRDs on a real kube-apiserver: that they
// install, that every CEL rule rejects what it should with its message, and
// that kubectl sees the printer columns, short names and categories.
package crd

import (
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/harness"
)

var env *harness.Env

func TestMain(m *testing.M) {
	os.Exit(harness.Run(m, func() (func() error, error) {
		var err error
		if env, err = harness.Start(harness.Options{}); err != nil {
			return nil, err
		}
		return env.Stop, nil
	}))
}
