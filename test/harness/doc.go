// Package harness is what ipkeeper's integration tests and benchmarks run
// on: a real control plane (kube-apiserver and etcd built from test/tools,
// with the generated CRDs and, on request, the generated webhook
// configuration), controller-runtime managers run the way the operator's
// main runs them, the CNI plugin binary built as a node runs it, and the
// fixtures the test packages share: pools, nodes, pods and claims, CNI
// network configurations, and polling.
//
// The operator's own controllers and webhooks are not wired in here: the
// packages controllers and webhooks test themselves on this harness, so it
// must not import them (their in-package tests would form an import cycle).
// A manager runs whatever ManagerOptions.Setup registers; the subpackage
// harness/operator passes the real controllers and webhooks, in the one
// place that the packages testing the plugin against a whole cluster
// (test/cni, test/network, test/perf) share.
//
// The environment tunes it:
//   - KUBEBUILDER_ASSETS and CNI_PLUGINS_DIR name directories holding
//     kube-apiserver and etcd, and the reference CNI plugins; unset, the
//     harness builds them with hack/test-assets.sh (cached per machine).
//   - IPKEEPER_BIN_DIR (BinDirEnv) names the directory of the binaries
//     (the plugin, the manager, the node agent) that make test built once
//     for every package; unset, the harness builds the ones a package needs
//     into a temporary directory.
//   - IPKEEPER_REQUIRE_ROOT=1 (RequireRootEnv) turns the skip of a test that
//     needs root into a failure, so that CI cannot pass without running it.
package harness
