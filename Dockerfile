# The ipkeeper image: the operator (/manager), the CNI plugin (/ipkeeper)
# and the node agent (/ipkeeper-agent), which the operator runs on every
# node to copy the plugin there. The binaries are built as `make build`
# builds them (a test compares the two).
#
# Base images are build arguments, pinned by version; pin them by digest
# where your registry can be reached, e.g.
#   docker build --build-arg BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:... .
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=0.1.0
WORKDIR /workspace

# Dependencies first, so that they are cached while the code changes.
COPY go.mod go.sum ./
RUN go mod download

COPY *.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY webhooks/ webhooks/
COPY cni/ cni/
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN go build -trimpath -ldflags="-s -X main.version=${VERSION}" -o manager . && \
    go build -trimpath -ldflags="-s -X main.version=${VERSION}" -o ipkeeper ./cni && \
    go build -trimpath -ldflags="-s -X main.version=${VERSION}" -o ipkeeper-agent ./cni/agent

FROM ${BASE_IMAGE}
WORKDIR /
COPY --from=builder /workspace/manager /workspace/ipkeeper /workspace/ipkeeper-agent /
# Not root: the manager needs no privilege. The node agent's DaemonSet runs
# it as root, without capabilities, to write the nodes' CNI directories.
USER 65532:65532
ENTRYPOINT ["/manager"]
