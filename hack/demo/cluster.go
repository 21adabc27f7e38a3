package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"

	"github.com/ipkeeper/ipkeeper/hack/kubeyaml"
)

// controlPlaneBuild is roughly how long the first build of kube-apiserver
// takes on 2 cores; later runs find it in the cache.
const controlPlaneBuild = "about 7 minutes on 2 cores"

// startControlPlane builds (once per machine) and starts kube-apiserver and
// etcd with ipkeeper's CRDs and webhook configuration, whose serving
// certificate it generates.
func (d *demo) startControlPlane(context.Context) error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		dir, err := d.buildControlPlane()
		if err != nil {
			return fatal(err)
		}
		if err := os.Setenv("KUBEBUILDER_ASSETS", dir); err != nil {
			return fatal(err)
		}
	}
	env, err := harness.Start(harness.Options{Webhooks: true})
	if err != nil {
		return fatal(err)
	}
	d.env = env
	if err := harness.WriteKubeconfig(env.Config, d.kubeconfig); err != nil {
		return fatal(err)
	}
	bins, err := harness.PrepareBinaries("manager", "ipkeeper", "ipkeeper-agent")
	if err != nil {
		return fatal(err)
	}
	d.bins = bins
	d.say("kube-apiserver at %s; an administrator's kubeconfig: %s", env.Config.Host, d.kubeconfig)
	return nil
}

// buildControlPlane runs hack/test-assets.sh, which builds kube-apiserver
// and etcd from their Go modules the first time and finds them in the
// cache afterwards, telling the user how it goes.
func (d *demo) buildControlPlane() (string, error) {
	d.say("Finding kube-apiserver and etcd; the first run on a machine builds them from source, %s.", controlPlaneBuild)
	cmd := exec.Command(filepath.Join(harness.RepoRoot(), "hack", "test-assets.sh"), "envtest")
	cmd.Stderr = os.Stderr
	done := make(chan struct{})
	defer close(done)
	go d.tick(done, "still building the control plane")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build kube-apiserver and etcd (hack/test-assets.sh envtest): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// tick prints what is going on every 30 seconds until done is closed.
func (d *demo) tick(done <-chan struct{}, what string) {
	start := time.Now()
	for {
		select {
		case <-done:
			return
		case <-time.After(30 * time.Second):
			d.say("... %s: %s so far, %s in all", what, time.Since(start).Round(time.Second), controlPlaneBuild)
		}
	}
}

// install applies what config/default installs for the node side: the
// operator's namespace, the service accounts and their roles, the
// node-claims admission policy.
func (d *demo) install(context.Context) error {
	applied, err := d.env.ApplyRendered("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
	if err != nil {
		return fatal(err)
	}
	for _, obj := range applied {
		if strings.HasPrefix(obj.GetKind(), "ValidatingAdmissionPolicy") {
			d.say("%s %s", obj.GetKind(), obj.GetName())
		}
	}
	return nil
}

// applySamples creates the pools of config/samples and waits until the
// operator reports them Ready.
func (d *demo) applySamples(ctx context.Context) error {
	dir := filepath.Join(harness.RepoRoot(), "config", "samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*ippool*.yaml")) // the pattern is valid
	if len(files) == 0 {
		return fatal(fmt.Errorf("no sample pools (*ippool*.yaml) in %s", dir))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fatal(err)
		}
		objs, err := kubeyaml.Decode(data)
		if err != nil {
			return fatal(fmt.Errorf("read %s: %w", f, err))
		}
		for _, obj := range objs {
			if err := d.env.Client.Create(ctx, obj); err != nil {
				return fatal(fmt.Errorf("create %s %s: %w", obj.GetKind(), obj.GetName(), err))
			}
			d.say("IPPool %s: %s", obj.GetName(), cidrOf(obj))
		}
	}
	return fatal(d.waitForReadyPools(ctx))
}

func cidrOf(obj *unstructured.Unstructured) string {
	cidr, _, _ := unstructured.NestedString(obj.Object, "spec", "cidr")
	return cidr
}

// startOperator runs the manager binary as its own process, as its
// Deployment would.
func (d *demo) startOperator(context.Context) error {
	if err := d.runManager(); err != nil {
		return fatal(err)
	}
	d.say("manager pid %d; its log: %s", d.manager.PID(), filepath.Join(d.dir, "manager.log"))
	return nil
}

// runManager starts the manager binary.
func (d *demo) runManager() error {
	log, err := os.OpenFile(filepath.Join(d.dir, "manager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	d.manager, err = d.env.StartManagerProcess(d.bins.Path("manager"), harness.ProcessOptions{Log: log, Args: []string{
		"--gc-grace-period=" + d.opts.gracePeriod.String(), "--gc-scan-interval=1m",
		"--node-agent-image=ghcr.io/ipkeeper/ipkeeper:demo",
	}})
	return err
}

// waitForReadyPools waits until the operator reports every pool Ready.
func (d *demo) waitForReadyPools(ctx context.Context) error {
	return poll(ctx, 30*time.Second, func() error {
		pools := &ipamv1alpha1.IPPoolList{}
		if err := d.env.Client.List(ctx, pools); err != nil {
			return err
		}
		for i := range pools.Items {
			if !harness.PoolReady(&pools.Items[i]) {
				return fmt.Errorf("pool %s is not Ready", pools.Items[i].Name)
			}
		}
		return nil
	})
}

// poll calls check until it returns nil or timeout passes.
func poll(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w (waited %s)", err, timeout)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// claimOf reads the claim called name.
func (d *demo) claimOf(ctx context.Context, name string) (*ipamv1alpha1.IPClaim, error) {
	claim := &ipamv1alpha1.IPClaim{}
	return claim, d.env.Client.Get(ctx, client.ObjectKey{Name: name}, claim)
}
