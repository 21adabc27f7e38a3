package controllers

import (
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
)

// NodeAgentName is the name of the node agent's DaemonSet.
const NodeAgentName = "ipkeeper-node-agent"

// nodeAgentEpochAnnotation, on the DaemonSet's pod template, records when
// the operator created the DaemonSet (Unix nanoseconds). An agent passes it
// to the node (NODE_AGENT_EPOCH) with its pod-template generation: the
// agents of a DaemonSet created later supersede those of an earlier one,
// whose generations a new DaemonSet starts counting again from 1. It is
// not under ipam.ipkeeper.dev/, the prefix of the annotations the
// plugin reads on pods.
const nodeAgentEpochAnnotation = "ipkeeper.dev/node-agent-epoch"

// nodeAgentEpochOfAnnotation, on the DaemonSet itself, names the UID of
// the DaemonSet its epoch was made for. Where it names another, the
// DaemonSet came with another's epoch, which the operator replaces.
const nodeAgentEpochOfAnnotation = "ipkeeper.dev/node-agent-epoch-of"

// Paths inside the node agent's container.
const (
	agentHostBinDir  = "/host/opt/cni/bin"
	agentHostConfDir = "/host/etc/cni/net.d"
	agentTokenDir    = "/var/run/secrets/ipkeeper"
	agentNetworkDir  = "/etc/ipkeeper/network"
	// agentTokenLifetime is how long a projected token lives; the kubelet
	// renews it at 80% of that, and the agent rewrites the kubeconfig.
	agentTokenLifetime = 3600
)

// NodeAgentOptions describe the node agent the operator runs on every node.
type NodeAgentOptions struct {
	// Image holds the agent (/ipkeeper-agent) and the plugin (/ipkeeper).
	Image string
	// ServiceAccount is the node service account the agent runs as.
	ServiceAccount string
	// CNIBinDir and CNIConfDir are the nodes' CNI directories.
	CNIBinDir, CNIConfDir string
	// NetworkConfigMap, when set, names a ConfigMap of network
	// configurations the agent installs on every node.
	NetworkConfigMap string
	// Server, when set, is the API server's URL the plugin uses instead
	// of the kubernetes Service's: where the nodes' host network cannot
	// reach the Service (no kube-proxy yet, say).
	Server string
}

// Check says what is wrong with the options, if anything: a server
// address that every node's kubeconfig would carry must be an https URL.
func (o NodeAgentOptions) Check() error {
	if o.Server == "" {
		return nil
	}
	u, err := url.Parse(o.Server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--node-agent-server %q is not the API server's https URL, such as https://10.0.0.10:6443", o.Server)
	}
	return nil
}

// nodeAgentLabels select the node agent's pods.
var nodeAgentLabels = map[string]string{
	"app.kubernetes.io/name":      "ipkeeper",
	"app.kubernetes.io/component": "node-agent",
}

// nodeAgentDaemonSet returns the node agent's DaemonSet in namespace, of
// the given epoch (nodeAgentEpochAnnotation). It runs on every Linux node,
// whatever its taints, on the host network (it must work before any pod
// network does), as system-node-critical. A rolling update starts the new
// agent before the old one stops, and an agent that stops leaves the
// plugin in place: no node is ever without a working plugin.
func nodeAgentDaemonSet(namespace, epoch string, o NodeAgentOptions) *appsv1ac.DaemonSetApplyConfiguration {
	return appsv1ac.DaemonSet(NodeAgentName, namespace).
		WithLabels(nodeAgentLabels).
		WithSpec(appsv1ac.DaemonSetSpec().
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(nodeAgentLabels)).
			WithUpdateStrategy(appsv1ac.DaemonSetUpdateStrategy().
				WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDaemonSet().
					WithMaxSurge(intstr.FromInt32(1)).
					WithMaxUnavailable(intstr.FromInt32(0)))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(nodeAgentLabels).
				WithAnnotations(map[string]string{nodeAgentEpochAnnotation: epoch}).
				WithSpec(nodeAgentPodSpec(o))))
}

func nodeAgentPodSpec(o NodeAgentOptions) *corev1ac.PodSpecApplyConfiguration {
	spec := corev1ac.PodSpec().
		WithServiceAccountName(o.ServiceAccount).
		// The agent's only credential is the token of its own volume,
		// with a lifetime it chooses.
		WithAutomountServiceAccountToken(false).
		WithHostNetwork(true).
		WithDNSPolicy(corev1.DNSClusterFirstWithHostNet).
		WithPriorityClassName("system-node-critical").
		WithTolerations(corev1ac.Toleration().WithOperator(corev1.TolerationOpExists)).
		WithNodeSelector(map[string]string{corev1.LabelOSStable: "linux"}).
		WithTerminationGracePeriodSeconds(10).
		WithContainers(nodeAgentContainer(o)).
		WithVolumes(
			hostPathVolume("cni-bin", o.CNIBinDir),
			hostPathVolume("cni-conf", o.CNIConfDir),
			corev1ac.Volume().WithName("token").WithProjected(corev1ac.ProjectedVolumeSource().WithSources(
				corev1ac.VolumeProjection().WithServiceAccountToken(corev1ac.ServiceAccountTokenProjection().
					WithPath("token").WithExpirationSeconds(agentTokenLifetime)),
				corev1ac.VolumeProjection().WithConfigMap(corev1ac.ConfigMapProjection().
					WithName("kube-root-ca.crt").
					WithItems(corev1ac.KeyToPath().WithKey("ca.crt").WithPath("ca.crt"))))))
	if o.NetworkConfigMap != "" {
		spec.WithVolumes(corev1ac.Volume().WithName("network").WithConfigMap(corev1ac.ConfigMapVolumeSource().
			WithName(o.NetworkConfigMap).WithOptional(true)))
	}
	return spec
}

func nodeAgentContainer(o NodeAgentOptions) *corev1ac.ContainerApplyConfiguration {
	args := []string{
		"--cni-bin-dir=" + agentHostBinDir, "--cni-conf-dir=" + agentHostConfDir,
		"--token-file=" + agentTokenDir + "/token", "--ca-file=" + agentTokenDir + "/ca.crt",
	}
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName("cni-bin").WithMountPath(agentHostBinDir),
		corev1ac.VolumeMount().WithName("cni-conf").WithMountPath(agentHostConfDir),
		corev1ac.VolumeMount().WithName("token").WithMountPath(agentTokenDir).WithReadOnly(true),
	}
	if o.Server != "" {
		args = append(args, "--server="+o.Server)
	}
	if o.NetworkConfigMap != "" {
		args = append(args, "--network-config-dir="+agentNetworkDir)
		mounts = append(mounts, corev1ac.VolumeMount().WithName("network").WithMountPath(agentNetworkDir).WithReadOnly(true))
	}
	return corev1ac.Container().
		WithName("node-agent").
		WithImage(o.Image).
		WithCommand("/ipkeeper-agent").
		WithArgs(args...).
		WithEnv(
			fieldEnv("NODE_NAME", "spec.nodeName"),
			// The newest agent on a node writes; the old one of a rolling
			// update, or of a DaemonSet deleted since, stops when it sees
			// the newer one.
			fieldEnv("NODE_AGENT_EPOCH", "metadata.annotations['"+nodeAgentEpochAnnotation+"']"),
			fieldEnv("POD_TEMPLATE_GENERATION", "metadata.labels['pod-template-generation']")).
		// Ready once the node's plugin uses this agent's token: only then
		// does a rolling update stop the old agent, whose token dies with
		// its pod.
		WithReadinessProbe(corev1ac.Probe().
			WithExec(corev1ac.ExecAction().WithCommand(append([]string{"/ipkeeper-agent", "--check"}, args...)...)).
			WithPeriodSeconds(5)).
		WithVolumeMounts(mounts...).
		WithResources(corev1ac.ResourceRequirements().WithRequests(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("16Mi"),
		}).WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")})).
		// The node's CNI directories belong to root: the agent runs as
		// root, with no capability and a read-only root file system.
		WithSecurityContext(corev1ac.SecurityContext().
			WithRunAsUser(0).WithRunAsNonRoot(false).
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
}

// fieldEnv is an environment variable holding a field of the pod.
func fieldEnv(name, path string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath(path)))
}

func hostPathVolume(name, path string) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(name).WithHostPath(corev1ac.HostPathVolumeSource().
		WithPath(path).WithType(corev1.HostPathDirectoryOrCreate))
}
