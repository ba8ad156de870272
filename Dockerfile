# Builds the image the manifests in deploy/ name (fleetdns:dev).
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin fleetdns

FROM debian:bookworm-slim
COPY --from=build /src/target/release/fleetdns /usr/local/bin/fleetdns
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/fleetdns"]
