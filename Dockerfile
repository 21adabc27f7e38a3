# The ipkeeper image: the operator (/manager) and the CNI plugin (/ipkeeper),
# which the node installer copies onto each node.
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
WORKDIR /workspace

# Dependencies first, so that they are cached while the code changes.
COPY go.mod go.sum ./
RUN go mod download

COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY webhooks/ webhooks/
COPY cni/ cni/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags=-s -o manager . && \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags=-s -o ipkeeper ./cni

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager /workspace/ipkeeper /
USER 65532:65532
ENTRYPOINT ["/manager"]
