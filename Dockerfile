# syntax=docker/dockerfile:1
# Build a static rectify binary, then run it as a non-root user with the
# database on a volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rectify ./cmd/rectify \
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
ENTRYPOINT ["/usr/local/bin/rectify"]
CMD ["serve"]
