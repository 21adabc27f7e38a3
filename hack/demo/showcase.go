package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ipkeeper/ipkeeper/api/ipspace"
	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// showState shows pools and claims as kubectl prints them, once the
// operator has counted the pods' addresses (it recounts a second after
// claims change).
func (d *demo) showState(ctx context.Context) error {
	err := poll(ctx, 30*time.Second, func() error {
		pool := &ipamv1alpha1.IPPool{}
		if err := d.env.Client.Get(ctx, client.ObjectKey{Name: "default-v4"}, pool); err != nil {
			return err
		}
		if pool.Status.Allocated != int64(len(d.pods)) {
			return fmt.Errorf("pool default-v4 counts %d addresses, want %d", pool.Status.Allocated, len(d.pods))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := d.kubectl("", "get", "ipam"); err != nil {
		return err
	}
	out, err := d.kubectl("", "get", "ipclaims", "--selector", ipamv1alpha1.LabelNode+"=node-a")
	if err != nil {
		return err
	}
	if err := expectOutput(out, "default/web-0"); err != nil {
		return err
	}
	_, err = d.kubectl("", "get", "ippool", "default-v4", "-o",
		`jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}`)
	return err
}

// showOverlapRefused applies a pool inside default-v4: the webhook refuses
// it and names the pool it overlaps.
func (d *demo) showOverlapRefused(context.Context) error {
	out, err := d.kubectl(`apiVersion: ipam.ipkeeper.dev/v1alpha1
kind: IPPool
metadata:
  name: overlapping
spec:
  cidr: 10.32.128.0/17
`, "apply", "-f", "-")
	if err == nil {
		return errors.New("the overlapping pool was admitted")
	}
	return expectOutput(out, `overlaps pool "default-v4"`)
}

// showOtherNodeRefused uses node-a's kubeconfig, as its node agent wrote
// it, to claim an address for node-b: the admission policy refuses.
func (d *demo) showOtherNodeRefused(context.Context) error {
	out, err := d.kubectl(`apiVersion: ipam.ipkeeper.dev/v1alpha1
kind: IPClaim
metadata:
  name: 10.32.200.9
spec:
  pool: default-v4
  type: Address
  node: node-b
  address: 10.32.200.9
  owner: {containerID: taken-over, interface: eth0}
`, "--kubeconfig", d.nodes[0].cfg.KubeconfigPath(), "create", "-f", "-")
	if err == nil {
		return errors.New("node-a's credential created a claim for node-b")
	}
	return expectOutput(out, "ValidatingAdmissionPolicy 'ipkeeper-node-claims'")
}

// showOperatorDown stops the manager: people's pool writes wait for the
// webhook, but a new pod still gets its addresses. Then the manager comes
// back, whatever the step showed (unless the demo is interrupted), since
// the steps after it need it.
func (d *demo) showOperatorDown(ctx context.Context) (err error) {
	if err := d.manager.Stop(); err != nil {
		return fatal(fmt.Errorf("stop the manager: %w", err))
	}
	d.manager = nil
	d.say("the manager is stopped: no replica of the operator runs")
	defer func() {
		if ctx.Err() != nil {
			return // interrupted: the demo is stopping
		}
		if restartErr := d.runManager(); restartErr != nil {
			err = fatal(errors.Join(err, fmt.Errorf("restart the manager: %w", restartErr)))
			return
		}
		d.say("the manager runs again (pid %d)", d.manager.PID())
	}()
	out, err := d.kubectl("", "label", "ippool", "default-v4", "example.com/touched=yes")
	if err == nil || expectOutput(out, "failed calling webhook") != nil {
		return errors.New("a pool update went through without the webhook")
	}
	p, err := d.addPod(ctx, "web-while-down", d.nodes[1])
	if err != nil {
		return err
	}
	d.say("pod default/%s on %s: %s", p.pod.Name, p.node.name, strings.Join(p.ips, ", "))
	return nil
}

// showLeakCollected deletes a pod without the CNI DEL a runtime would run
// (its node died, say): the operator marks its claims Orphaned, then
// releases them after the grace period.
func (d *demo) showLeakCollected(ctx context.Context) error {
	p := d.pods[0]
	if _, err := d.kubectl("", "delete", "pod", p.pod.Name, "--grace-period=0", "--force"); err != nil {
		return err
	}
	name, err := claimName(p.ips[0])
	if err != nil {
		return err
	}
	if err := d.waitForOrphaned(ctx, name); err != nil {
		return err
	}
	if _, err := d.kubectl("", "get", "ipclaim", name, "-o",
		`jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}`); err != nil {
		return err
	}
	err = poll(ctx, d.opts.gracePeriod+30*time.Second, func() error {
		_, err := d.claimOf(ctx, name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("claim %s is still there", name)
	})
	if err != nil {
		return err
	}
	d.say("after the grace period (%s) the claim is gone:", d.opts.gracePeriod)
	_, err = d.kubectl("", "get", "ipclaims", "--selector", ipamv1alpha1.LabelNode+"="+p.node.name)
	return err
}

// waitForOrphaned waits until the claim is marked Orphaned.
func (d *demo) waitForOrphaned(ctx context.Context, name string) error {
	return poll(ctx, 30*time.Second, func() error {
		claim, err := d.claimOf(ctx, name)
		if err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(claim.Status.Conditions, ipamv1alpha1.ClaimOrphaned) {
			return fmt.Errorf("claim %s is not marked Orphaned", name)
		}
		return nil
	})
}

// claimName returns the name of the claim of an address in CIDR form.
func claimName(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", err
	}
	return ipspace.AddressClaimName(p.Addr()), nil
}
