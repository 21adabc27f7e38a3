package poolchoice

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

func TestNames(t *testing.T) {
	pools := map[string]string{ipamv1alpha1.AnnotationPools: "blue-v4, blue-v6"}
	tests := []struct {
		name       string
		pod, ns    map[string]string
		configured []string
		want       []string
		source     string
		wantKind   error
		wantErr    string
	}{
		{name: "pod wins", pod: pools, ns: map[string]string{ipamv1alpha1.AnnotationPools: "red"}, configured: []string{"default"},
			want: []string{"blue-v4", "blue-v6"}, source: "pod annotation"},
		{name: "namespace next", ns: pools, configured: []string{"default"}, want: []string{"blue-v4", "blue-v6"}, source: "namespace annotation"},
		{name: "configuration last", configured: []string{"default"}, want: []string{"default"}, source: "CNI configuration"},
		{name: "empty annotation", pod: map[string]string{ipamv1alpha1.AnnotationPools: " , "}, wantKind: ErrBadAnnotation,
			wantErr: "the pod annotation ipam.ipkeeper.dev/pools is empty"},
		{name: "nothing at all", wantKind: ErrNoPools, wantErr: "no pool to allocate from: set ipam.pools"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, source, err := Names(tt.pod, tt.ns, tt.configured)
			if tt.wantErr != "" {
				expectError(t, err, tt.wantKind, tt.wantErr)
				return
			}
			if err != nil || !slices.Equal(got, tt.want) || !strings.HasPrefix(source, tt.source) {
				t.Fatalf("Names = %v from %q, %v; want %v from %q", got, source, err, tt.want, tt.source)
			}
		})
	}
}

func TestRequestedAddresses(t *testing.T) {
	tests := []struct {
		value   string
		want    string
		wantErr string
	}{
		{value: "10.0.0.5, fd00::5", want: "10.0.0.5 fd00::5"},
		{value: "10.0.0.5,10.0.0.6", wantErr: "at most one address per family"},
		{value: "10.0.0.500", wantErr: `"10.0.0.500" is not an IPv4 or IPv6 address`},
		{value: "", wantErr: "is empty"},
	}
	for _, tt := range tests {
		got, err := RequestedAddresses(map[string]string{ipamv1alpha1.AnnotationIPs: tt.value})
		if tt.wantErr != "" {
			expectError(t, err, ErrBadAnnotation, tt.wantErr)
			continue
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if err != nil || strings.Join(s, " ") != tt.want {
			t.Errorf("%q: got %v, %v; want %s", tt.value, got, err, tt.want)
		}
	}
	if got, err := RequestedAddresses(nil); got != nil || err != nil {
		t.Errorf("no annotation: got %v, %v", got, err)
	}
}

func readyPool(name, cidr string) *ipamv1alpha1.IPPool {
	return &ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       ipamv1alpha1.IPPoolSpec{CIDR: cidr},
		Status: ipamv1alpha1.IPPoolStatus{Conditions: []metav1.Condition{
			{Type: ipamv1alpha1.PoolReady, Status: metav1.ConditionTrue, Reason: ipamv1alpha1.ReasonAllocatable},
		}},
	}
}

func TestChoose(t *testing.T) {
	v4, v6, spare := readyPool("v4", "10.0.0.0/16"), readyPool("v6", "fd00::/64"), readyPool("spare", "10.1.0.0/16")
	disabled := readyPool("off", "10.2.0.0/16")
	disabled.Spec.Disabled = true
	rack := readyPool("rack1", "10.3.0.0/16")
	rack.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "1"}}
	notReady := readyPool("new", "10.4.0.0/16")
	notReady.Status.Conditions = nil
	all := map[string]*ipamv1alpha1.IPPool{}
	for _, p := range []*ipamv1alpha1.IPPool{v4, v6, spare, disabled, rack, notReady} {
		all[p.Name] = p
	}
	tests := []struct {
		name     string
		names    []string
		labels   map[string]string
		want     string
		wantKind error
		wantErr  string
	}{
		{name: "dual-stack", names: []string{"v4", "v6"}, want: "v4 | v6"},
		{name: "fallback pool of a family", names: []string{"v4", "v6", "spare"}, want: "v4 spare | v6"},
		{name: "disabled pool skipped", names: []string{"off", "v4"}, want: "v4"},
		{name: "node selected", names: []string{"rack1"}, labels: map[string]string{"rack": "1"}, want: "rack1"},
		{name: "node not selected", names: []string{"rack1"}, labels: map[string]string{"rack": "2"},
			wantKind: ErrNodeNotSelected, wantErr: "pool rack1 does not select node node-a (nodeSelector rack=1)"},
		{name: "missing pool", names: []string{"nope"}, wantKind: ErrPoolMissing, wantErr: "pool nope does not exist"},
		{name: "disabled only", names: []string{"off"}, wantKind: ErrPoolUnavailable, wantErr: "pool off is disabled"},
		{name: "not ready", names: []string{"new"}, wantKind: ErrPoolUnavailable, wantErr: "pool new is not Ready (the operator has not reported on it yet)"},
		{name: "one family lost fails all", names: []string{"off", "v6"}, wantKind: ErrPoolUnavailable, wantErr: "pool off is disabled"},
		{name: "every reason told, with the first one's kind", names: []string{"rack1", "off"}, labels: map[string]string{"rack": "2"},
			wantKind: ErrNodeNotSelected, wantErr: "label the node or use another pool; pool off is disabled: enable it or use another pool"},
		{name: "a missing pool fails all", names: []string{"v4", "v6-typo"}, wantKind: ErrPoolMissing, wantErr: "pool v6-typo does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			families, err := Choose(tt.names, all, "node-a", tt.labels)
			if tt.wantErr != "" {
				expectError(t, err, tt.wantKind, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var groups []string
			for _, f := range families {
				var names []string
				for _, p := range f.Pools {
					names = append(names, p.Name)
				}
				groups = append(groups, strings.Join(names, " "))
			}
			if got := strings.Join(groups, " | "); got != tt.want {
				t.Fatalf("families = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPin(t *testing.T) {
	v4, spare, v6 := readyPool("v4", "10.0.0.0/16"), readyPool("spare", "10.1.0.0/16"), readyPool("v6", "fd00::/64")
	families := []Family{{IPv4: true, Pools: []*ipamv1alpha1.IPPool{v4, spare}}, {Pools: []*ipamv1alpha1.IPPool{v6}}}
	pinned, err := Pin(families, netip.MustParseAddr("10.1.2.3"), "CNI configuration")
	if err != nil {
		t.Fatal(err)
	}
	if len(pinned[0].Pools) != 1 || pinned[0].Pools[0] != spare || pinned[0].Requested.String() != "10.1.2.3" || len(pinned[1].Pools) != 1 {
		t.Fatalf("pinned = %+v; want the IPv4 family narrowed to spare, the IPv6 family untouched", pinned)
	}
	_, err = Pin(families, netip.MustParseAddr("192.168.0.1"), "pod annotation")
	expectError(t, err, ErrBadAnnotation, "lies in none of the pools chosen by the pod annotation")
}

// expectError fails unless err is a poolchoice Error of kind whose message
// holds want.
func expectError(t *testing.T, err error, kind error, want string) {
	t.Helper()
	var choiceErr *Error
	if !errors.As(err, &choiceErr) || !errors.Is(err, kind) || !strings.Contains(choiceErr.Error(), want) {
		t.Fatalf("error = %v; want %q containing %q", err, kind, want)
	}
}
