package crd

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
	"github.com/ipkeeper/ipkeeper/test/harness"
)

// tableAccept is the Accept header kubectl get sends: it asks the API server
// to render the object list as a table with the CRD's printer columns.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// getTable lists resource the way kubectl get does and returns the table.
func getTable(t *testing.T, resource string) *metav1.Table {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion = &ipamv1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	rc, err := rest.UnversionedRESTClientFor(withJSON(cfg))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rc.Get().AbsPath("/apis", ipamv1alpha1.GroupVersion.Group, ipamv1alpha1.GroupVersion.Version, resource).
		SetHeader("Accept", tableAccept).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("list %s as a table: %v", resource, err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatalf("decode table: %v\n%s", err, raw)
	}
	return &table
}

// rowsByName returns each row's cells by column name, keyed by object name.
func rowsByName(t *testing.T, table *metav1.Table) map[string]map[string]any {
	t.Helper()
	rows := map[string]map[string]any{}
	for _, row := range table.Rows {
		cells := map[string]any{}
		for i, col := range table.ColumnDefinitions {
			cells[col.Name] = row.Cells[i]
		}
		name, _ := cells["Name"].(string)
		rows[name] = cells
	}
	return rows
}

func columnNames(table *metav1.Table) []string {
	var names []string
	for _, c := range table.ColumnDefinitions {
		names = append(names, c.Name)
	}
	return names
}

// wideColumnNames returns the names of the columns only kubectl get -o wide
// shows (priority above 0).
func wideColumnNames(table *metav1.Table) []string {
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority > 0 {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestClaimTableColumns(t *testing.T) {
	ctx := context.Background()
	address := namedAddressClaim("10.32.7.5", "10.32.7.5")
	block := namedBlockClaim("10.32.7.0-24", "10.32.7.0/24")
	for _, c := range []*ipamv1alpha1.IPClaim{address, block} {
		if err := env.Client.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = env.Client.Delete(ctx, c) }()
	}
	table := getTable(t, "ipclaims")
	want := []string{"Name", "Type", "Address", "Pool", "Node", "Pod", "Age"}
	if got := columnNames(table); !slices.Equal(got, want) {
		t.Fatalf("columns = %v, want %v", got, want)
	}
	rows := rowsByName(t, table)
	checkCells(t, rows["10.32.7.5"], map[string]any{"Type": "Address", "Address": "10.32.7.5", "Pool": "default-v4", "Node": "node-a", "Pod": "default/web-0"})
	checkCells(t, rows["10.32.7.0-24"], map[string]any{"Type": "Block", "Address": "10.32.7.0/24", "Pool": "default-v4", "Node": "node-a", "Pod": nil})
}

func TestPoolTableColumns(t *testing.T) {
	ctx := context.Background()
	pool := harness.FullPool("table-columns", "10.32.0.0/12")
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, pool) }()
	pool.Status = ipamv1alpha1.IPPoolStatus{
		Capacity: "1048550", Allocated: 3, Free: "1048547", Blocks: 1, BlockCapacity: "4096", Namespaces: "tenant=a",
		Conditions: []metav1.Condition{{Type: ipamv1alpha1.PoolReady, Status: metav1.ConditionTrue, Reason: ipamv1alpha1.ReasonAllocatable, LastTransitionTime: metav1.Now()}},
	}
	if err := env.Client.Status().Update(ctx, pool); err != nil {
		t.Fatal(err)
	}
	table := getTable(t, "ippools")
	want := []string{"Name", "CIDR", "Capacity", "Allocated", "Free", "Blocks", "Ready", "Namespaces", "Age"}
	if got := columnNames(table); !slices.Equal(got, want) {
		t.Fatalf("columns = %v, want %v", got, want)
	}
	if got := wideColumnNames(table); !slices.Equal(got, []string{"Namespaces"}) {
		t.Fatalf("columns shown only by -o wide = %v, want [Namespaces]", got)
	}
	checkCells(t, rowsByName(t, table)["table-columns"], map[string]any{
		"CIDR": "10.32.0.0/12", "Capacity": "1048550", "Allocated": float64(3), "Free": "1048547", "Blocks": float64(1), "Ready": "True",
		"Namespaces": "tenant=a",
	})
}

func checkCells(t *testing.T, row map[string]any, want map[string]any) {
	t.Helper()
	if row == nil {
		t.Fatalf("row missing; want cells %v", want)
	}
	for col, w := range want {
		if row[col] != w {
			t.Errorf("column %s = %#v, want %#v", col, row[col], w)
		}
	}
}

// TestKubectlNames checks the names kubectl resolves: short names and the
// ipam category that `kubectl get ipam` lists.
func TestKubectlNames(t *testing.T) {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion(ipamv1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ippools": "ipp", "ipclaims": "ipc"}
	for _, r := range list.APIResources {
		short, ok := want[r.Name]
		if !ok {
			continue
		}
		delete(want, r.Name)
		if r.Namespaced {
			t.Errorf("%s is namespaced, want cluster-scoped", r.Name)
		}
		if !slices.Equal(r.ShortNames, []string{short}) || !slices.Equal(r.Categories, []string{"ipam"}) {
			t.Errorf("%s: short names %v, categories %v; want [%s], [ipam]", r.Name, r.ShortNames, r.Categories, short)
		}
	}
	if len(want) > 0 {
		t.Fatalf("resources not served: %v", want)
	}
}
