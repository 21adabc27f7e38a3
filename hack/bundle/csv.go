package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

const (
	// packageName is the OLM package, and the CSV is <packageName>.v<version>.
	packageName = "ipkeeper"
	// channel is the only channel, and the default one.
	channel = "stable"
	// kustomizeImage is the image name config/manager uses and that
	// kustomize's images field replaces; the bundle replaces it the same way.
	kustomizeImage = "controller"
	// relatedImageCNI names the node agent's image in relatedImages; the
	// operator reads it from the environment variable RELATED_IMAGE_CNI.
	relatedImageCNI = "cni"
	// suggestedNamespaceAnnotation makes the console offer the namespace of
	// the kustomize install.
	suggestedNamespaceAnnotation = "operatorframework.io/suggested-namespace"
)

// buildCSV completes the hand-written base CSV with what config/ and the
// flags say.
func buildCSV(src *sources, b *base, o options) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	csv := b.csv.DeepCopy()
	release(csv, b, o)
	csv.Annotations[suggestedNamespaceAnnotation] = src.namespace
	dep, err := deploymentSpec(src, o.image)
	if err != nil {
		return nil, err
	}
	csv.Spec.InstallStrategy = installStrategy(src, dep)
	if csv.Spec.WebhookDefinitions, err = webhookDefinitions(src, dep.Name); err != nil {
		return nil, err
	}
	owned, err := ownedCRDs(src.crds, csv.Spec.CustomResourceDefinitions.Owned)
	if err != nil {
		return nil, err
	}
	csv.Spec.CustomResourceDefinitions.Owned = owned
	return csv, nil
}

// release stamps the CSV with the version and image of this release, its
// fixed creation time, and the hand-written examples and icon.
func release(csv *operatorsv1alpha1.ClusterServiceVersion, b *base, o options) {
	csv.APIVersion = operatorsv1alpha1.ClusterServiceVersionAPIVersion
	csv.Kind = operatorsv1alpha1.ClusterServiceVersionKind
	csv.Name = packageName + ".v" + o.version.String()
	csv.Spec.Version = version.OperatorVersion{Version: o.version}
	// One image holds the operator, the node agent and the CNI plugin; the
	// operator finds the agent's in RELATED_IMAGE_CNI.
	csv.Spec.RelatedImages = []operatorsv1alpha1.RelatedImage{{Name: packageName, Image: o.image}, {Name: relatedImageCNI, Image: o.image}}
	csv.Spec.Icon = []operatorsv1alpha1.Icon{{
		Data:      base64.StdEncoding.EncodeToString(b.icon),
		MediaType: "image/svg+xml",
	}}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["alm-examples"] = b.examples
	csv.Annotations["containerImage"] = o.image
	csv.Annotations["createdAt"] = o.createdAt
}

// deploymentSpec is config/manager's Deployment as the kustomize install
// names it, running image. It is taken from config/manager and not from
// config/default, so it carries no cert-manager volume: OLM mounts its own
// serving certificate at the same path.
func deploymentSpec(src *sources, image string) (operatorsv1alpha1.StrategyDeploymentSpec, error) {
	d := src.deployment.DeepCopy()
	pod := &d.Spec.Template.Spec
	if pod.ServiceAccountName == "" {
		return operatorsv1alpha1.StrategyDeploymentSpec{}, errors.New("config/manager's Deployment names no serviceAccountName")
	}
	pod.ServiceAccountName = src.namePrefix + pod.ServiceAccountName
	if err := setImage(d, image); err != nil {
		return operatorsv1alpha1.StrategyDeploymentSpec{}, err
	}
	return operatorsv1alpha1.StrategyDeploymentSpec{
		Name:  src.namePrefix + d.Name,
		Label: d.Labels,
		Spec:  d.Spec,
	}, nil
}

// setImage replaces the kustomize placeholder image, as `kustomize edit set
// image controller=...` does for the kustomize install.
func setImage(d *appsv1.Deployment, image string) error {
	replaced := false
	for i := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[i]
		if c.Image == kustomizeImage || strings.HasPrefix(c.Image, kustomizeImage+":") {
			c.Image = image
			c.Env = append(c.Env, corev1.EnvVar{Name: "RELATED_IMAGE_" + strings.ToUpper(relatedImageCNI), Value: image})
			replaced = true
		}
	}
	if !replaced {
		return fmt.Errorf("no container of config/manager's Deployment runs the image %q", kustomizeImage)
	}
	return nil
}

// installStrategy runs the Deployment under its service account, with the
// generated ClusterRole plus the metrics authentication rules cluster-wide
// and the generated Role plus the leader election rules in the operator's
// namespace, as config/rbac binds them; and has OLM create the node agent's
// account with the plugin's rules and the use of OpenShift's privileged
// SCC, which the operator's DaemonSet runs as.
func installStrategy(src *sources, dep operatorsv1alpha1.StrategyDeploymentSpec) operatorsv1alpha1.NamedInstallStrategy {
	sa := dep.Spec.Template.Spec.ServiceAccountName
	return operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: operatorsv1alpha1.StrategyDetailsDeployment{
			DeploymentSpecs: []operatorsv1alpha1.StrategyDeploymentSpec{dep},
			Permissions: []operatorsv1alpha1.StrategyDeploymentPermissions{
				{ServiceAccountName: sa, Rules: slices.Concat(src.managerOwnRules, src.leaderElectionRules)},
			},
			ClusterPermissions: []operatorsv1alpha1.StrategyDeploymentPermissions{
				{ServiceAccountName: sa, Rules: slices.Concat(src.managerRules, src.metricsAuthRules)},
				{ServiceAccountName: src.namePrefix + src.nodeAccount.Name, Rules: slices.Concat(src.nodeRules, src.nodeSCCRules)},
			},
		},
	}
}

// webhookDefinitions turns config/webhook into the CSV's webhooks. OLM then
// creates the webhook Service (port containerPort to targetPort, as
// config/webhook/service.yaml does), issues its certificate and injects the
// CA, which cert-manager does for the kustomize install. A CSV cannot carry
// match conditions: the operator adds the IPClaim webhook's at start
// (controllers.AdmissionSetup).
func webhookDefinitions(src *sources, deployment string) ([]operatorsv1alpha1.WebhookDescription, error) {
	ports := src.webhookService.Spec.Ports
	if len(ports) != 1 {
		return nil, fmt.Errorf("config/webhook/service.yaml has %d ports, want 1", len(ports))
	}
	defs := make([]operatorsv1alpha1.WebhookDescription, 0, len(src.webhooks.Webhooks))
	for _, w := range src.webhooks.Webhooks {
		if w.ClientConfig.Service == nil || w.ClientConfig.Service.Path == nil {
			return nil, fmt.Errorf("webhook %s calls no service path: a CSV can only describe webhooks served by its deployment", w.Name)
		}
		if w.NamespaceSelector != nil {
			return nil, fmt.Errorf("webhook %s sets a namespaceSelector, which a CSV cannot carry", w.Name)
		}
		defs = append(defs, operatorsv1alpha1.WebhookDescription{
			GenerateName:            w.Name,
			Type:                    operatorsv1alpha1.ValidatingAdmissionWebhook,
			DeploymentName:          deployment,
			ContainerPort:           ports[0].Port,
			TargetPort:              ptr.To(ports[0].TargetPort),
			WebhookPath:             w.ClientConfig.Service.Path,
			Rules:                   w.Rules,
			FailurePolicy:           w.FailurePolicy,
			MatchPolicy:             w.MatchPolicy,
			ObjectSelector:          w.ObjectSelector,
			SideEffects:             w.SideEffects,
			TimeoutSeconds:          w.TimeoutSeconds,
			AdmissionReviewVersions: w.AdmissionReviewVersions,
		})
	}
	return defs, nil
}
