# syntax=docker/dockerfile:1
# Build a static rectify binary, then run it as a non-root user with the
# database on a volume. .dockerignore keeps local databases, evidence and
# .git out of the build context; pass the revision in instead:
#   docker build --build-arg VERSION=$(git describe --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) -t rectify .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" -o /out/rectify ./cmd/rectify \
    && /out/rectify version \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rectify /usr/local/bin/rectify
# A named volume starts with this directory's owner: the nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080
ENV RECTIFY_DB=/data/rectify.db RECTIFY_ADDR=0.0.0.0:8080 RECTIFY_LOG_FORMAT=json
# The image has no shell and no curl: the binary asks itself, on the
# address RECTIFY_ADDR gives (0.0.0.0 is this container's loopback).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/rectify", "healthcheck", "--timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/rectify"]
CMD ["serve"]
