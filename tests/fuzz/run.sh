#!/usr/bin/env bash
# Every cargo-fuzz target for a bounded time (FUZZ_SECONDS each, default 20): the secret
# parser, submission-form answers, the webhook URL validator, the Standard Webhooks signature
# header parser and the SSRF URL check (docs/reliability.md, section 7). Fails on any crash.
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer); this machine kind has only the stable
# toolchain and cannot fetch another, so the build runs the stable compiler with
# RUSTC_BOOTSTRAP=1, which lets it accept them. Only these fuzz builds see the variable.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${FUZZ_SECONDS:-20}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/onboarding-portal/fuzz-target}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi

for target in onboarding-core:parse_secret onboarding-core:form_answers onboarding-core:endpoint_url \
  webhooks:signature_header webhooks:ssrf_url; do
  crate="${target%%:*}" name="${target#*:}"
  echo "== cargo fuzz run $name ($crate, ${SECONDS_EACH}s)"
  (cd "crates/$crate" && RUSTC_BOOTSTRAP=1 cargo fuzz run "$name" -- \
    -max_total_time="$SECONDS_EACH" -print_final_stats=1 2>&1 | grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|INFO: Running)|panicked|crash-" || true)
  # cargo fuzz exits non-zero on a crash; the pipe above would hide it, so check for artifacts.
  if compgen -G "crates/$crate/fuzz/artifacts/$name/*" >/dev/null; then
    echo "cargo fuzz found a crash in $name:" >&2
    ls "crates/$crate/fuzz/artifacts/$name" >&2
    exit 1
  fi
done
