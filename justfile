# Longer recipes. Nothing here is required: each recipe is the plain command it runs.

# Start the portal on 127.0.0.1:8080 with a local SQLite database.
run:
    cargo run -p portal-server

# Seed the demo product, plans and workspace.
demo:
    cargo run -p portal-server -- demo

# The README's test command: no external service needed.
test:
    cargo test --workspace

# Storage conformance and end-to-end suites against the local PostgreSQL.
test-pg url="postgres://postgres@127.0.0.1:5432/test":
    PORTAL_TEST_DATABASE_URL={{url}} cargo test -p storage-seaorm -p portal-tests

# End-to-end suite over HTTP against the real server.
e2e:
    cargo test -p portal-tests

# Everything CI runs.
ci:
    bash .ci/run

# Regenerate docs/openapi.json from the code.
openapi:
    UPDATE_OPENAPI=1 cargo test -p http-api openapi

# The embedder's example: the whole pipeline with in-memory adapters.
example:
    cargo run -p onboarding-core --example pipeline

# Load benchmarks (issue 7): release builds, wrk on loopback; writes docs/benchmarks.{md,json}.
bench:
    bash crates/bench/run.sh
