// Package crd tests the generated CRDs on a real kube-apiserver: that they
// install, that every CEL rule rejects what it should with its message, and
// that kubectl sees the printer columns, short names and categories.
package crd

import (
	"fmt"
	"os"
	"testing"

	"github.com/ipkeeper/ipkeeper/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testenv.Start(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	return m.Run()
}
