# syntax=docker/dockerfile:1
#
# QuantumFlow image: the worker and enqueue binaries on distroless static,
# run as a non-root user (docs/OPERATIONS.md, "Container image").
#
# The binaries are built with cgo (code ingestion parses with tree-sitter,
# which is C) and linked statically (-linkmode external -extldflags
# -static, with the netgo and osusergo tags so that no glibc NSS code is
# needed at run time), so the runtime image still needs no libc.
#
#   docker build -t quantumflow:dev --build-arg VERSION=$(git describe --always) .
#
# The worker reports its version (quantumflow_worker_info, `worker started`)
# from the Go build info: the VCS revision when the build context holds
# .git (it does unless .dockerignore says otherwise), else "(devel)".
# VERSION and REVISION label the image (OCI annotations).
# Linted offline by deploy/kubernetes/check (TestDockerfile).

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	go build -buildvcs=auto -tags netgo,osusergo -ldflags='-s -w -linkmode external -extldflags -static' -o /out/worker ./cmd/worker && \
	go build -buildvcs=auto -tags netgo,osusergo -ldflags='-s -w -linkmode external -extldflags -static' -o /out/enqueue ./cmd/enqueue

FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="quantumflow" \
	org.opencontainers.image.source="https://github.com/quantumflow/quantumflow" \
	org.opencontainers.image.version="${VERSION}" \
	org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/worker /out/enqueue /usr/local/bin/
# distroless's nonroot user; the Kubernetes manifests run as the same UID.
USER 65532:65532
EXPOSE 9464
# The worker listens on loopback unless told otherwise; in a container the
# operator asks for every interface so probes and Prometheus reach it.
ENV QF_METRICS_ADDR=0.0.0.0:9464 QF_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/worker"]
