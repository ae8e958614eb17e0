//! Load benchmarks of the portal (issue 7). The binaries are the bare-poem ceiling
//! (`bench-ceiling`), the key seeder (`bench-seed`) and the webhook receiver
//! (`bench-receiver`); `run.sh` drives them with wrk and writes `docs/benchmarks.{md,json}`.
//! Nothing here runs in `cargo test`.
