# syntax=docker/dockerfile:1
# hivesync controller image.
#
#   docker build -t hivesync:dev .     the default target: built from source (hack/kind.sh builds and loads it into kind)
#   docker buildx build --target release --platform linux/amd64,linux/arm64 .
#                                      the release image: the static musl binaries the release workflow built, from
#                                      dist/linux-<arch>/hivesync (.github/workflows/release.yml)
#
# Base images are pinned by digest (the tag says what the image is, the digest which one); refresh a pin with
# `docker buildx imagetools inspect IMAGE:TAG` and change tag and digest together.

# ------------------------------------------------------------------------------------------------- release image
# Fully static binaries (musl, jemalloc linked in): the distroless "static" base (CA certificates, /etc/passwd,
# tzdata, no libc, no shell), uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639 AS release
ARG TARGETARCH
LABEL org.opencontainers.image.title="hivesync" \
      org.opencontainers.image.description="A Hive-compatible multi-cluster sync controller" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --chmod=0755 dist/linux-${TARGETARCH}/hivesync /hivesync
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/hivesync"]
CMD ["controller"]

# ------------------------------------------------------------------------------------------------- from source
# Build stage: the official Rust image at the toolchain the project is developed with; a release build of the
# `hivesync` binary only (no tests, no dev-dependencies). The dependency layer is cached across source changes.
FROM docker.io/library/rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
WORKDIR /src
# 1. Dependencies only, against a stub crate, so that editing src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src e2e \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > e2e/main.rs \
 && cargo build --release --locked --bin hivesync \
 && rm -rf src target/release/.fingerprint/hivesync-* target/release/deps/hivesync-* target/release/deps/libhivesync-*
# 2. The real sources (the e2e suite is not part of the binary: its stub stays). There is no .git here: the commit
# that `hivesync --version` and hivesync_build_info name comes from this argument (build.rs).
ARG HIVESYNC_COMMIT=unknown
COPY build.rs ./
COPY src ./src
COPY crds ./crds
RUN HIVESYNC_COMMIT="$HIVESYNC_COMMIT" cargo build --release --locked --bin hivesync \
 && cp target/release/hivesync /hivesync \
 && /hivesync --version

# Runtime: glibc + libgcc + CA certificates, no shell, no package manager, uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
LABEL org.opencontainers.image.title="hivesync" \
      org.opencontainers.image.description="A Hive-compatible multi-cluster sync controller" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /hivesync /hivesync
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/hivesync"]
CMD ["controller"]
