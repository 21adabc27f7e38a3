package webhooks

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// These tests send the table cases of the validators through the real API
// server, as kubectl would: the answer comes from the CRD's own rules or from
// the webhook over TLS, with the message a user sees.

const (
	poolWebhook  = "vippool.ipam.ipkeeper.dev"
	claimWebhook = "vipclaim.ipam.ipkeeper.dev"
)

// createFixture creates obj for the rest of the test; an object with a
// deletion timestamp is created and then deleted, so that its finalizers
// keep it Terminating.
func createFixture(t *testing.T, obj client.Object) {
	t.Helper()
	terminating := obj.GetDeletionTimestamp() != nil
	obj.SetDeletionTimestamp(nil)
	create(t, obj)
	if terminating {
		deleteTerminating(t, obj)
	}
}

// deleteTerminating deletes obj, which has finalizers, and waits until the
// webhook's cache sees it Terminating.
func deleteTerminating(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), obj); err != nil {
		t.Fatalf("delete %s: %v", obj.GetName(), err)
	}
	cached := obj.DeepCopyObject().(client.Object)
	harness.Eventually(t, waitTimeout, func() error {
		if err := mgr.GetCache().Get(context.Background(), client.ObjectKeyFromObject(obj), cached); err != nil {
			return err
		}
		if cached.GetDeletionTimestamp() == nil {
			return fmt.Errorf("the cache does not see %s terminating yet", obj.GetName())
		}
		return nil
	})
}

// expectAnswer checks the API server's answer to a table case: the CRD's
// message when serverWant is set, else the webhook's (or success).
func expectAnswer(t *testing.T, err error, webhook, name, want, serverWant string) {
	t.Helper()
	switch {
	case serverWant != "":
		if err == nil || !strings.Contains(err.Error(), serverWant) {
			t.Fatalf("error = %v; want the API server to refuse with %q", err, serverWant)
		}
	case want == "":
		if err != nil {
			t.Fatalf("valid object refused: %v", err)
		}
	default:
		expectDenied(t, err, webhook, name, want)
	}
}

func TestPoolAdmissionCreate(t *testing.T) {
	for _, obj := range poolFixtures() {
		if _, ok := obj.(*ipamv1alpha1.IPPool); ok {
			createFixture(t, obj)
		}
	}
	for _, tt := range poolCreateCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fakeOnly != "" {
				t.Skip(tt.fakeOnly)
			}
			p := basePool()
			tt.mutate(p)
			err := env.Client.Create(context.Background(), p)
			if err == nil {
				t.Cleanup(func() { remove(t, p) })
			}
			expectAnswer(t, err, poolWebhook, p.Name, tt.want, tt.serverWant)
		})
	}
}

func TestPoolAdmissionUpdate(t *testing.T) {
	var claims []client.Object
	for _, obj := range poolFixtures() {
		if c, ok := obj.(*ipamv1alpha1.IPClaim); ok && c.Spec.Pool == "pods" {
			claims = append(claims, c)
			continue
		}
		createFixture(t, obj)
	}
	for _, tt := range poolUpdateCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fakeOnly != "" {
				t.Skip(tt.fakeOnly)
			}
			p := basePool()
			create(t, p)
			for _, c := range claims {
				create(t, c.DeepCopyObject().(client.Object))
			}
			if tt.old != nil {
				tt.old(p)
				update(t, p)
			}
			tt.mutate(p)
			err := env.Client.Update(context.Background(), p)
			expectAnswer(t, err, poolWebhook, p.Name, tt.want, tt.serverWant)
		})
	}
}

func TestClaimAdmissionCreate(t *testing.T) {
	for _, obj := range claimFixtures() {
		createFixture(t, obj)
	}
	for _, tt := range claimCreateCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fakeOnly != "" {
				t.Skip(tt.fakeOnly)
			}
			c := baseClaim()
			tt.mutate(c)
			err := env.Client.Create(context.Background(), c)
			if err == nil {
				t.Cleanup(func() { remove(t, c) })
			}
			expectAnswer(t, err, claimWebhook, c.Name, tt.want, tt.serverWant)
		})
	}
}

func TestClaimAdmissionUpdate(t *testing.T) {
	for _, obj := range claimFixtures() {
		if _, ok := obj.(*ipamv1alpha1.IPPool); ok {
			createFixture(t, obj)
		}
	}
	for _, tt := range claimUpdateCases() {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fakeOnly != "" {
				t.Skip(tt.fakeOnly)
			}
			old := baseClaim()
			old.Finalizers = []string{"example.com/hold"}
			if tt.old != nil {
				tt.old(old)
			}
			create(t, old)
			c := old.DeepCopy()
			tt.mutate(c)
			err := env.Client.Update(context.Background(), c)
			expectAnswer(t, err, claimWebhook, c.Name, tt.want, tt.serverWant)
		})
	}
}

// A pool deleted while it still has claims stays Terminating; its claims
// and the pool itself must still take metadata updates (finalizers), or
// neither could ever go away.
func TestClaimOfTerminatingPoolCanBeUpdated(t *testing.T) {
	ctx := context.Background()
	late := pool("late", "10.50.0.0/16")
	late.Finalizers = []string{ipamv1alpha1.PoolFinalizer}
	create(t, late)
	claim := podClaim("late", "10.50.0.5", "late")
	claim.Finalizers = []string{"example.com/hold"}
	create(t, claim)
	deleteTerminating(t, late)
	second := podClaim("late", "10.50.0.6", "late-2")
	expectDenied(t, env.Client.Create(ctx, second), claimWebhook, second.Name, `pool "late" is being deleted`)

	claim.Finalizers = nil
	claim.Annotations = map[string]string{"example.com/released": "true"}
	if err := env.Client.Update(ctx, claim); err != nil {
		t.Fatalf("update of a claim of a terminating pool refused: %v", err)
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(late), late); err != nil {
		t.Fatal(err)
	}
	late.Finalizers = nil
	if err := env.Client.Update(ctx, late); err != nil {
		t.Fatalf("removing the finalizer of a terminating pool refused: %v", err)
	}
}
