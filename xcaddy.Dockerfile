# syntax=docker/dockerfile:1
#
# The Shortify image: Caddy built by xcaddy with the Shortify modules, in a
# small final image that runs every role by command:
#
#   edge, control-plane node or stats:  shortify run --config /etc/shortify/Caddyfile
#   a new API key:                      shortify new-api-key
#   what is built in:                   shortify list-modules
#
# The role is chosen by the Caddyfile (deploy/ holds one per role); the
# binary is the same everywhere, so every node can take any role.
#
# Build from the repository root:
#
#   docker build -f xcaddy.Dockerfile -t shortify:dev .
#
# `make xcaddy-check` runs the same xcaddy build with the local Go toolchain
# (no Docker engine needed) and checks the module list of the result.

ARG GO_VERSION=1.26.8
ARG CADDY_VERSION=v2.11.9
ARG XCADDY_VERSION=v0.4.5

FROM golang:${GO_VERSION}-bookworm AS build
ARG CADDY_VERSION
ARG XCADDY_VERSION
# A pinned xcaddy, not "latest": the image must be reproducible.
RUN go install github.com/caddyserver/xcaddy/cmd/xcaddy@${XCADDY_VERSION}
WORKDIR /src
# Modules first, so that a change of source code reuses the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: the SQLite driver is pure Go, and a static binary runs on the
# distroless base below. The module path is replaced by this checkout.
ENV CGO_ENABLED=0
RUN xcaddy build ${CADDY_VERSION} \
        --output /out/shortify \
        --with github.com/shortify/shortify@v0.0.0=/src \
    && /out/shortify list-modules --skip-standard | grep -q '^http.handlers.shortify_edge$'
# Directories the non-root user owns in the final image (distroless has no
# shell to make them there).
RUN mkdir -p /out/data /out/config

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shortify /usr/bin/shortify
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY --from=build --chown=nonroot:nonroot /out/config /config
COPY Caddyfile /etc/shortify/Caddyfile
# Caddy keeps its own state (certificates, autosave) under XDG paths.
# The embedded default keeps its files under ./data, which is /data/data
# here, on the volume. Safe by default: the default config listens on the
# container's loopback interface only until SHORTIFY_BIND says where
# (docker run -e SHORTIFY_BIND=0.0.0.0 -p 8080:8080 ...), and creating
# links needs an API key (SHORTIFY_ANONYMOUS_CREATE=on lets anyone create,
# as `make run` does). The Raft address (SHORTIFY_RAFT_BIND, port 8300)
# is set per node by deploy/; the role Caddyfiles there set their own.
ENV XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config SHORTIFY_ANONYMOUS_CREATE=off
WORKDIR /data
USER nonroot
VOLUME ["/data"]
EXPOSE 8080 8300
ENTRYPOINT ["/usr/bin/shortify"]
CMD ["run", "--config", "/etc/shortify/Caddyfile", "--adapter", "caddyfile"]
