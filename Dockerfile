# syntax=docker/dockerfile:1
# hivesync controller image: `docker build -t hivesync:dev .` (hack/kind.sh builds and loads it into kind).
# Build stage: the official Rust image at the toolchain the project is developed with; a release build of the
# `hivesync` binary only (no tests, no dev-dependencies). The dependency layer is cached across source changes.
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# 1. Dependencies only, against a stub crate, so that editing src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src e2e \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > e2e/main.rs \
 && cargo build --release --locked --bin hivesync \
 && rm -rf src target/release/.fingerprint/hivesync-* target/release/deps/hivesync-* target/release/deps/libhivesync-*
# 2. The real sources (the e2e suite is not part of the binary: its stub stays).
COPY src ./src
COPY crds ./crds
RUN cargo build --release --locked --bin hivesync \
 && cp target/release/hivesync /hivesync \
 && /hivesync --version

# Runtime: glibc + libgcc + CA certificates, no shell, no package manager, uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="hivesync" \
      org.opencontainers.image.description="A Hive-compatible multi-cluster sync controller" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /hivesync /hivesync
USER 65532:65532
EXPOSE 2112
ENTRYPOINT ["/hivesync"]
CMD ["controller"]
