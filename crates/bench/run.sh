#!/usr/bin/env bash
# The load benchmarks (issue 7): `just bench`, or `bash crates/bench/run.sh` from the root.
# Loopback only; the server on core 0, wrk on core 1 (taskset); warm-up, then the median of
# $BENCH_RUNS runs of $BENCH_DURATION seconds. Writes docs/benchmarks.json and the figures
# table of docs/benchmarks.md (between the BEGIN/END markers).
# Knobs: BENCH_SIZES ("1000 100000 1000000"), BENCH_RUNS (3), BENCH_DURATION (5),
# BENCH_CONNECTIONS (32), BENCH_SKIP_BUILD (set: use the binaries already in target/release).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$ROOT/target/bench
SIZES=${BENCH_SIZES:-"1000 100000 1000000"}
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-5}
CONNS=${BENCH_CONNECTIONS:-32}
SRV_CPU=0
GEN_CPU=1
TOKEN=bench-gateway-token
START=$(date +%s)
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
: >"$RESULTS"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need sqlite3; then
  echo "installing wrk, nginx, sqlite3 (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light sqlite3 >/dev/null
fi

[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p portal-server -p portal-bench
BIN=$ROOT/target/release

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 400); do curl -fs -o /dev/null "$1" && return 0; sleep 0.025; done
  echo "not ready: $1" >&2; return 1
}

# One wrk run: prints "rps p50_ms p99_ms wrk_cpu_percent".
wrk_once() { # url keys-file mode duration
  local out
  out=$(mktemp)
  BENCH_KEYS=$2 BENCH_MODE=$3 BENCH_TOKEN=$TOKEN \
    taskset -c $GEN_CPU /usr/bin/time -f "TIME %U %S %e" wrk -t1 -c"$CONNS" -d"$4"s --latency -s "$ROOT/crates/bench/verify.lua" "$1" >"$out" 2>&1 &
  local pid=$!
  wait $pid
  python3 - "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if bad: sys.stderr.write(f"warning: {bad.group(1)} non-2xx answers\n")
u, s_, e = map(float, re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", t).groups())
print(rps, p50, p99, round(100 * (u + s_) / e, 1))
PY
  rm -f "$out"
}

# Warm-up, then $RUNS runs; records the median (by rps) with wrk's CPU share.
measure() { # name url keys-file mode
  local name=$1 url=$2 keys=$3 mode=$4 runs=()
  wrk_once "$url" "$keys" "$mode" 2 >/dev/null
  for _ in $(seq 1 "$RUNS"); do
    runs+=("$(wrk_once "$url" "$keys" "$mode" "$DUR")")
  done
  local med
  med=$(printf '%s\n' "${runs[@]}" | sort -n -k1 | sed -n "$(((RUNS + 1) / 2))p")
  echo "$name $med" | tee -a "$RESULTS"
}

# --- A: ceiling -------------------------------------------------------------------------
BENCH_BIND=127.0.0.1:7100 taskset -c $SRV_CPU "$BIN/bench-ceiling" & PIDS+=($!)
wait_http http://127.0.0.1:7100/up
echo x >"$WORK/one.txt"
measure A_ceiling http://127.0.0.1:7100/api/v1/verify "$WORK/one.txt" verify
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# --- H: footprint (an empty, migrated SQLite data dir) -------------------------------------
H=$WORK/footprint; rm -rf "$H"; mkdir -p "$H"
serve() { # data-dir port -> pid in SERVER
  PORTAL_DATA_DIR=$1 PORTAL_BIND=127.0.0.1:$2 PORTAL_GATEWAY_TOKEN=$TOKEN RUST_LOG=warn \
    taskset -c $SRV_CPU "$BIN/portal-server" serve >"$1/server.log" 2>&1 &
  SERVER=$!
}
serve "$H" 7400; wait_http http://127.0.0.1:7400/readyz; kill $SERVER; wait $SERVER 2>/dev/null || true
COLD=()
for _ in 1 2 3; do
  t0=$(date +%s%N); serve "$H" 7400; wait_http http://127.0.0.1:7400/readyz; t1=$(date +%s%N)
  COLD+=($(((t1 - t0) / 1000000)))
  sleep 2; RSS=$(awk '/VmRSS/{print $2}' /proc/$SERVER/status)
  kill $SERVER; wait $SERVER 2>/dev/null || true
done
echo "H_cold_start_ms $(printf '%s\n' "${COLD[@]}" | sort -n | sed -n 2p)" | tee -a "$RESULTS"
echo "H_idle_rss_kb $RSS" | tee -a "$RESULTS"

# --- B, D: verify and usage at each size --------------------------------------------------
NGINX_KEYS=""
for n in $SIZES; do
  D=$WORK/keys-$n; rm -rf "$D"; mkdir -p "$D"
  t0=$(date +%s)
  "$BIN/bench-seed" "$n" "$D"
  serve "$D" 7500; wait_http http://127.0.0.1:7500/readyz; kill $SERVER; wait $SERVER 2>/dev/null || true
  sqlite3 "$D/portal.db" <"$D/keys.sql"
  rm -f "$D/keys.sql"
  echo "seed_${n}_s $(($(date +%s) - t0))" | tee -a "$RESULTS"
  serve "$D" 7500; wait_http http://127.0.0.1:7500/readyz
  U=http://127.0.0.1:7500/api/v1/verify
  measure "B_hit_$n" "$U" "$D/hit.txt" verify
  measure "B_miss_$n" "$U" "$D/miss.txt" verify
  measure "B_bad_checksum_$n" "$U" "$D/bad.txt" verify
  measure "B_revoked_$n" "$U" "$D/revoked.txt" verify
  if [ "$n" = "$(echo "$SIZES" | awk '{print $1}')" ]; then
    measure D_usage_events http://127.0.0.1:7500/api/v1/usage/events "$D/cred.txt" usage
  fi
  kill $SERVER; wait $SERVER 2>/dev/null || true
  [ "$n" -le 100000 ] && NGINX_KEYS=$D
done

# --- C: nginx answering the same check from a map ------------------------------------------
NG=$WORK/nginx; rm -rf "$NG"; mkdir -p "$NG/logs"
cat >"$NG/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
error_log $NG/logs/error.log warn;
pid $NG/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  map_hash_max_size 4194304;
  map_hash_bucket_size 128;
  map \$http_x_secret \$valid { default 0; include $NGINX_KEYS/nginx-map.conf; }
  server {
    listen 127.0.0.1:7300;
    default_type application/json;
    location /check {
      if (\$valid) { return 200 '{"valid":true,"reason":null}'; }
      return 200 '{"valid":false,"reason":"unknown"}';
    }
  }
}
NGINX
taskset -c $SRV_CPU nginx -p "$NG" -c "$NG/nginx.conf" -e "$NG/logs/error.log" & PIDS+=($!)
wait_http http://127.0.0.1:7300/check || sleep 1
measure C_nginx_$(basename "$NGINX_KEYS" | sed 's/keys-//') http://127.0.0.1:7300/check "$NGINX_KEYS/hit.txt" nginx
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

TOTAL=$(($(date +%s) - START))
echo "total_s $TOTAL" | tee -a "$RESULTS"
python3 "$ROOT/crates/bench/report.py" "$RESULTS" "$ROOT/docs/benchmarks.json" "$ROOT/docs/benchmarks.md"
