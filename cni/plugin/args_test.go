package plugin

import (
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ipkeeper/ipkeeper/cni/ipamtest"
)

func TestParsePodArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     string
		want     podArgs
		wantCode uint
		wantMsg  string
	}{
		{name: "no arguments: not Kubernetes", args: ""},
		{name: "the pod, with what Kubernetes adds around it",
			args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db-0;K8S_POD_INFRA_CONTAINER_ID=3f2a;K8S_POD_UID=u-1",
			want: podArgs{Namespace: "shop", Name: "db-0", UID: "u-1"}},
		{name: "no uid: read from the pod later", args: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db-0",
			want: podArgs{Namespace: "shop", Name: "db-0"}},
		{name: "empty pairs are skipped", args: ";K8S_POD_NAMESPACE=shop;;K8S_POD_NAME=db-0;",
			want: podArgs{Namespace: "shop", Name: "db-0"}},
		{name: "a value may hold =", args: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=db=0",
			want: podArgs{Namespace: "shop", Name: "db=0"}},
		{name: "other keys only: not Kubernetes", args: "IgnoreUnknown=1;FOO=bar"},
		{name: "a pair without =", args: "K8S_POD_NAMESPACE=shop;K8S_POD_NAME",
			wantCode: types.ErrInvalidEnvironmentVariables,
			wantMsg:  `CNI_ARGS "K8S_POD_NAMESPACE=shop;K8S_POD_NAME" is not a list of KEY=VALUE pairs separated by ';'`},
		{name: "a namespace without a name", args: "K8S_POD_NAMESPACE=shop",
			wantCode: types.ErrInvalidEnvironmentVariables,
			wantMsg:  `CNI_ARGS names K8S_POD_NAMESPACE "shop" and K8S_POD_NAME "": give both or neither`},
		{name: "a name without a namespace", args: "K8S_POD_NAME=db-0;K8S_POD_UID=u-1",
			wantCode: types.ErrInvalidEnvironmentVariables,
			wantMsg:  `CNI_ARGS names K8S_POD_NAMESPACE "" and K8S_POD_NAME "db-0": give both or neither`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePodArgs(&skel.CmdArgs{Args: tt.args})
			ipamtest.ExpectExactCNIError(t, err, tt.wantCode, tt.wantMsg)
			if got != tt.want {
				t.Fatalf("parsePodArgs = %+v, want %+v", got, tt.want)
			}
			if got.isKubernetes() != (tt.want.Name != "") {
				t.Fatalf("isKubernetes = %v for %+v", got.isKubernetes(), got)
			}
		})
	}
}
