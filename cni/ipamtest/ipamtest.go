// Package ipamtest holds what the tests of the plugin's packages
// (poolchoice, allocator, plugin) and of the plugin binary share: a pool as
// the operator reports it Ready, and the checks of an error that must be of
// an ipamerr kind or a CNI error. Only tests import it.
package ipamtest

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/cni/ipamerr"
)

// ReadyPool returns a pool with spec that the operator has reported Ready.
func ReadyPool(name string, spec ipamv1alpha1.IPPoolSpec) *ipamv1alpha1.IPPool {
	return &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       spec,
		Status: ipamv1alpha1.IPPoolStatus{Conditions: []metav1.Condition{
			{Type: ipamv1alpha1.PoolReady, Status: metav1.ConditionTrue, Reason: ipamv1alpha1.ReasonAllocatable},
		}},
	}
}

// ExpectError fails the test unless err is an ipamerr.Error of kind whose
// message holds want.
func ExpectError(t testing.TB, err error, kind error, want string) {
	t.Helper()
	var ipamErr *ipamerr.Error
	if !errors.As(err, &ipamErr) || !errors.Is(err, kind) || !strings.Contains(ipamErr.Error(), want) {
		t.Fatalf("error = %v; want %q containing %q", err, kind, want)
	}
}
