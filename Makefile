# ipkeeper: Kubernetes IP address management.

# Image of the operator; the CNI plugin ships in the same image.
IMG ?= ipkeeper:latest

# The OLM bundle (make bundle): the operator's version, the fully qualified
# operator image the bundle installs, the bundle image, and the CSV's
# createdAt, fixed per version so that the bundle is the same on every run.
VERSION ?= 0.1.0
IMAGE_TAG_BASE ?= ghcr.io/ipkeeper/ipkeeper
BUNDLE_OPERATOR_IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
BUNDLE_CREATED_AT ?= 2026-11-26T00:00:00Z

# Tool versions, installed into ./bin by `go install`.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
KUSTOMIZE_VERSION ?= v5.8.2
# cert-manager whose CRDs the install test checks config/certmanager against
# (from its Go module: no download site is needed).
export CERT_MANAGER_VERSION ?= v1.21.2

LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)

# Test binaries (kube-apiserver, etcd, the reference CNI plugins) are built
# from test/tools into a cache outside the checkout, shared by every clone.
TEST_ASSETS = hack/test-assets.sh
GO_TEST_FLAGS ?= -timeout 25m
# GO_TEST_PKGS narrows make test, e.g. make test GO_TEST_PKGS=./test/install.
GO_TEST_PKGS ?= ./...

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC, webhook and admission policy manifests into config/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/policy -out config/policy/node_claims.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Format the code (gofmt).
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (configured in .golangci.yml).
	$(GOLANGCI_LINT) run ./...

# make test builds the binaries once, with make build, and hands their
# directory to every test package in IPKEEPER_BIN_DIR (test/harness).
.PHONY: test
test: build kustomize ## Run unit and integration tests on a real kube-apiserver and etcd.
	@if [ "$$(id -u)" != 0 ] && [ "$${IPKEEPER_REQUIRE_ROOT:-}" != 1 ]; then \
		echo "note: not root: the tests in real network namespaces skip (go test -v names them); run as root to include them"; fi
	assets="$$($(TEST_ASSETS) envtest)"; plugins="$$($(TEST_ASSETS) cni-plugins)"; \
	certmanager="$$($(TEST_ASSETS) cert-manager-crds)"; \
	KUBEBUILDER_ASSETS="$$assets" CNI_PLUGINS_DIR="$$plugins" CERT_MANAGER_CRDS="$$certmanager" \
	IPKEEPER_BIN_DIR="$(LOCALBIN)" KUSTOMIZE="$(KUSTOMIZE)" go test $(GO_TEST_FLAGS) $(GO_TEST_PKGS)

.PHONY: verify
verify: manifests generate bundle ## Fail on drift in generated files, unformatted code, vet or lint findings.
	hack/verify-clean.sh
	@unformatted="$$(gofmt -s -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "Not gofmt -s formatted (run make fmt):"; echo "$$unformatted"; exit 1; fi
	$(MAKE) vet lint

# Benchmarks: go test flags of make bench (6 runs each, as benchstat needs
# for a confidence interval; 2s each, so that a run holds well over a
# hundred ADDs at every concurrency), the file the results go to (*.out is
# ignored by git), the time they may take, and the benchstat that compares
# them.
BENCH_FLAGS ?= -count 6 -benchtime 2s
BENCH_OUT ?= bench.out
BENCH_TIMEOUT ?= 60m
BENCHSTAT_VERSION ?= v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT = go run golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

.PHONY: bench
bench: build kustomize ## Run the benchmarks of test/perf (allocation against a raw-create baseline, fill, churn, first ADD, the operator at 50,000 claims) into BENCH_OUT; see docs/performance.md.
	assets="$$($(TEST_ASSETS) envtest)"; \
	KUBEBUILDER_ASSETS="$$assets" IPKEEPER_BIN_DIR="$(LOCALBIN)" KUSTOMIZE="$(KUSTOMIZE)" \
	go test -timeout $(BENCH_TIMEOUT) -run '^$$' -bench . $(BENCH_FLAGS) ./test/perf/ | tee $(BENCH_OUT)
	@echo "Compare: $(BENCHSTAT) -col /impl -filter '.name:Allocation' $(BENCH_OUT)   (docs/performance.md has the others)"

# Flags of make demo: --once runs every step and exits, with status 1 when
# a step did not show what it should (make test runs it so).
DEMO_FLAGS ?=

.PHONY: demo
demo: build kustomize ## Run ipkeeper end to end on a local control plane until Ctrl-C (the first run builds kube-apiserver: about 7 minutes). DEMO_FLAGS=--once runs it once.
	go build -o $(LOCALBIN)/demo ./hack/demo
	IPKEEPER_BIN_DIR="$(LOCALBIN)" KUSTOMIZE="$(KUSTOMIZE)" $(LOCALBIN)/demo $(DEMO_FLAGS)

##@ Build

# Flags of every binary, here and in the Dockerfile (a test compares them):
# static, without local paths or a symbol table, with the version stamped in.
GO_BUILD = CGO_ENABLED=0 go build -trimpath -ldflags="-s -X main.version=$(VERSION)"

.PHONY: build
build: manifests generate ## Build bin/manager (the operator), bin/ipkeeper (the CNI plugin) and bin/ipkeeper-agent (the node agent).
	$(GO_BUILD) -o $(LOCALBIN)/manager .
	$(GO_BUILD) -o $(LOCALBIN)/ipkeeper ./cni
	$(GO_BUILD) -o $(LOCALBIN)/ipkeeper-agent ./cni/agent

.PHONY: run
run: manifests generate ## Run the operator against the cluster of the current kubeconfig.
	go run . --webhook-enabled=false

.PHONY: docker-build
docker-build: ## Build the image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image IMG (needs a Docker engine).
	docker push $(IMG)

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator into the cluster of the current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

.PHONY: bundle
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/ for VERSION and BUNDLE_OPERATOR_IMG.
	go run ./hack/bundle -version $(VERSION) -image $(BUNDLE_OPERATOR_IMG) -created-at $(BUNDLE_CREATED_AT)

.PHONY: bundle-build
bundle-build: bundle ## Build the bundle image BUNDLE_IMG (needs a Docker engine).
	docker build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

##@ Dependencies

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for the tests (cached); prints their directory last.
	@$(TEST_ASSETS) envtest

.PHONY: cni-plugins
cni-plugins: ## Build the reference CNI plugins for the tests (cached); prints their directory last.
	@$(TEST_ASSETS) cni-plugins

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into ./bin.
$(CONTROLLER_GEN):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION),controller-gen)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into ./bin.
$(GOLANGCI_LINT):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION),golangci-lint)

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into ./bin.
$(KUSTOMIZE):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION),kustomize)

# go-install-tool installs package $(2) at version $(3), whose binary is
# named $(4), as $(1).
define go-install-tool
@[ -f "$(1)" ] || { \
set -e; \
echo "Installing $(2)@$(3)"; \
GOBIN=$(LOCALBIN) go install $(2)@$(3); \
mv "$(LOCALBIN)/$(4)" "$(1)"; \
}
endef
