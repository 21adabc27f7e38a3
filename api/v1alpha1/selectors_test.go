package v1alpha1

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNamespaceSelector(t *testing.T) {
	tenantA := &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "a"}}
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		// selects is whether the namespace labelled tenant=a may use the
		// pool, and others whether one labelled tenant=b may.
		selects, others bool
		status          string
		wantErr         string
	}{
		{name: "no selector", selects: true, others: true, status: "<all>"},
		{name: "empty selector", selector: &metav1.LabelSelector{}, selects: true, others: true, status: "<all>"},
		{name: "by label", selector: tenantA, selects: true, status: "tenant=a"},
		{name: "by expression", selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tenant", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "c"}},
		}}, selects: true, status: "tenant in (a,c)"},
		{name: "unknown operator", selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tenant", Operator: "Equals", Values: []string{"a"}},
		}}, status: "<error>",
			wantErr: `spec.namespaceSelector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator: write a label selector such as {matchLabels: {tenant: a}} or {matchExpressions: [{key: tenant, operator: In, values: [a, b]}]}`},
		{name: "bad label key", selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tenant name": "a"}}, status: "<error>",
			wantErr: `spec.namespaceSelector.matchLabels: Invalid value: "tenant name": name part must consist of alphanumeric characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := IPPoolSpec{CIDR: "10.0.0.0/24", NamespaceSelector: tt.selector}
			if got := spec.SelectedNamespaces(); got != tt.status {
				t.Errorf("SelectedNamespaces = %q, want %q", got, tt.status)
			}
			errs := spec.ValidateSelectors(field.NewPath("spec"))
			sel, err := spec.NamespaceSelection()
			if tt.wantErr != "" {
				if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.wantErr) || err == nil {
					t.Fatalf("errors = %v, selection error %v; want %q", errs, err, tt.wantErr)
				}
				return
			}
			if len(errs) > 0 || err != nil {
				t.Fatalf("errors = %v, %v; want none", errs, err)
			}
			selects := func(tenant string) bool { return sel == nil || sel.Matches(labels.Set{"tenant": tenant}) }
			if selects("a") != tt.selects || selects("b") != tt.others {
				t.Fatalf("selects tenant a: %v, b: %v; want %v, %v", selects("a"), selects("b"), tt.selects, tt.others)
			}
		})
	}
}

func TestNetworkAnnotations(t *testing.T) {
	if got := NetworkPoolsAnnotation("macvlan-conf"); got != "ipam.ipkeeper.dev/pools.macvlan-conf" {
		t.Errorf("NetworkPoolsAnnotation = %q", got)
	}
	if got := NetworkIPsAnnotation("macvlan-conf"); got != "ipam.ipkeeper.dev/ips.macvlan-conf" {
		t.Errorf("NetworkIPsAnnotation = %q", got)
	}
}
