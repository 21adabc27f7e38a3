package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// mustPrefix parses a prefix.
func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// getClaim reads a claim from the API server.
func getClaim(name string) (*ipamv1alpha1.IPClaim, error) {
	claim := &ipamv1alpha1.IPClaim{}
	return claim, env.Client.Get(context.Background(), types.NamespacedName{Name: name}, claim)
}

// expectClaimCondition returns nil when claim name holds condition t with
// status and reason, and a message containing each of words.
func expectClaimCondition(name, t string, status metav1.ConditionStatus, reason string, words ...string) error {
	c, err := getClaim(name)
	if err != nil {
		return err
	}
	return expectCondition(c.Status.Conditions, t, status, reason, words...)
}

// expectCondition returns nil when conditions hold t with status and
// reason, and a message containing each of words.
func expectCondition(conditions []metav1.Condition, t string, status metav1.ConditionStatus, reason string, words ...string) error {
	c := meta.FindStatusCondition(conditions, t)
	if c == nil {
		return fmt.Errorf("no %s condition in %+v", t, conditions)
	}
	if c.Status != status || c.Reason != reason {
		return fmt.Errorf("%s is %s/%s (%q); want %s/%s", t, c.Status, c.Reason, c.Message, status, reason)
	}
	for _, w := range words {
		if !strings.Contains(c.Message, w) {
			return fmt.Errorf("%s message %q does not contain %q", t, c.Message, w)
		}
	}
	return nil
}

// expectEvent returns nil once an event with reason and type regards the
// object named name.
func expectEvent(name, reason, eventType string) error {
	list := &eventsv1.EventList{}
	if err := env.Client.List(context.Background(), list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason && e.Type == eventType {
			return nil
		}
	}
	return fmt.Errorf("no %s event %s regarding %s", eventType, reason, name)
}
