#!/usr/bin/env bash
# Builds the binaries the tests run against, from the Go modules pinned in
# test/tools/go.mod, into a cache outside the checkout that every clone
# reuses. Build output goes to stderr; the last line on stdout is the
# directory holding the binaries.
#
#   hack/test-assets.sh envtest       kube-apiserver and etcd (KUBEBUILDER_ASSETS)
#   hack/test-assets.sh cni-plugins   the reference CNI plugins (bridge and
#                                     macvlan, which test/network runs,
#                                     loopback, and host-local, the node-local IPAM that
#                                     the benchmarks in test/perf compare with)
#   hack/test-assets.sh cert-manager-crds
#                                     cert-manager's CRDs, from its Go module
#                                     (CERT_MANAGER_VERSION), which the install
#                                     test checks config/certmanager against
#
# KUBEBUILDER_ASSETS, CNI_PLUGINS_DIR and CERT_MANAGER_CRDS, when set, are
# used as they are.
# IPKEEPER_CACHE moves the cache (default: $XDG_CACHE_HOME/ipkeeper or
# ~/.cache/ipkeeper).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/test/tools"
cache="${IPKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ipkeeper}"

# version prints the version test/tools requires of module $1.
version() {
	(cd "$tools" && go list -m -f '{{.Version}}' "$1")
}

# tmp is the directory a build is writing into, removed if the script stops
# before the build is done.
tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build builds packages $3... into directory $1 unless it already holds every
# binary named in $2 (the build of kube-apiserver takes minutes the first
# time: it compiles the whole control plane); the build goes to a temporary
# directory first, so an interrupted or concurrent build never leaves a
# half-filled cache entry.
build() {
	local dir=$1 binaries=$2
	shift 2
	local missing=""
	for b in $binaries; do
		[ -x "$dir/$b" ] || missing=1
	done
	if [ -n "$missing" ]; then
		mkdir -p "$(dirname "$dir")"
		tmp=$(mktemp -d "$dir.tmp.XXXXXX")
		chmod 755 "$tmp"
		echo "Building $binaries into $dir" >&2
		(cd "$tools" && go build -o "$tmp/" "$@") >&2
		rm -rf "$dir" && mv "$tmp" "$dir"
		tmp=""
	fi
	echo "$dir"
}

platform="$(go env GOOS)-$(go env GOARCH)"
case "${1:-}" in
envtest)
	if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
		echo "$KUBEBUILDER_ASSETS"
		exit 0
	fi
	k8s=$(version k8s.io/kubernetes)
	etcd=$(version go.etcd.io/etcd/server/v3)
	build "$cache/envtest/kube-apiserver-$k8s-etcd-$etcd-$platform" "kube-apiserver etcd" \
		k8s.io/kubernetes/cmd/kube-apiserver ./etcd
	;;
cni-plugins)
	if [ -n "${CNI_PLUGINS_DIR:-}" ]; then
		echo "$CNI_PLUGINS_DIR"
		exit 0
	fi
	plugins=$(version github.com/containernetworking/plugins)
	build "$cache/cni-plugins/$plugins-$platform" "bridge macvlan loopback host-local" \
		github.com/containernetworking/plugins/plugins/main/bridge \
		github.com/containernetworking/plugins/plugins/main/macvlan \
		github.com/containernetworking/plugins/plugins/main/loopback \
		github.com/containernetworking/plugins/plugins/ipam/host-local
	;;
cert-manager-crds)
	if [ -n "${CERT_MANAGER_CRDS:-}" ]; then
		echo "$CERT_MANAGER_CRDS"
		exit 0
	fi
	module="github.com/cert-manager/cert-manager@${CERT_MANAGER_VERSION:?set CERT_MANAGER_VERSION (the Makefile does)}"
	dir=$(cd "$tools" && go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir/deploy/crds" ] || { echo "no deploy/crds in $module ($dir)" >&2; exit 1; }
	echo "$dir/deploy/crds"
	;;
*)
	echo "usage: $0 envtest|cni-plugins|cert-manager-crds" >&2
	exit 2
	;;
esac
