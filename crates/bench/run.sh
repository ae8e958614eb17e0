#!/usr/bin/env bash
# The load benchmarks (issue 7): `just bench`, or `bash crates/bench/run.sh` from the root.
# Loopback only; the server on core 0, wrk (or the measuring script) on core 1 (taskset);
# warm-up, then the median of $BENCH_RUNS runs of $BENCH_DURATION seconds. Writes
# docs/benchmarks.json and the figures section of docs/benchmarks.md (between the BEGIN/END
# markers).
# Knobs: BENCH_SIZES ("1000 100000 1000000"), BENCH_RUNS (3), BENCH_DURATION (3),
# BENCH_CONNECTIONS (32), BENCH_QUEUE_ROWS (1000000: E's subscriptions), BENCH_QUEUE_REPS (200: requests per page), BENCH_WEBHOOKS (5000:
# F's deliveries), BENCH_REVOCATIONS (50: G's rounds), BENCH_PG (postgres://postgres@127.0.0.1:5432:
# the server E and G create their databases on), BENCH_ONLY ("A B C D E F G H I": the scenarios
# to run; the report keeps the previous figures of the others), BENCH_SKIP_BUILD (set: use the
# binaries already built).
# Binaries come from ${CARGO_TARGET_DIR:-target}/release; work files go to target/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$ROOT/target/bench
SIZES=${BENCH_SIZES:-"1000 100000 1000000"}
RUNS=${BENCH_RUNS:-3}
DUR=${BENCH_DURATION:-3}
CONNS=${BENCH_CONNECTIONS:-32}
QUEUE_ROWS=${BENCH_QUEUE_ROWS:-1000000}
QUEUE_REPS=${BENCH_QUEUE_REPS:-200}
WEBHOOKS=${BENCH_WEBHOOKS:-5000}
REVOCATIONS=${BENCH_REVOCATIONS:-50}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
ONLY=${BENCH_ONLY:-"A B C D E F G H I"}
SRV_CPU=0
GEN_CPU=1
TOKEN=bench-gateway-token
START=$(date +%s)
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
: >"$RESULTS"
export SRV_CPU GEN_CPU NO_COLOR=1 PGOPTIONS="--client-min-messages=warning"
on() { [[ " $ONLY " == *" $1 "* ]]; }
echo "load_avg_1m_at_start $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RESULTS"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need sqlite3 || ! need psql || ! need python3; then
  echo "installing wrk, nginx-light, sqlite3, postgresql-client, python3 (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    wrk nginx-light sqlite3 postgresql-client python3 >/dev/null
fi
# E and F (their PostgreSQL halves) and G need a PostgreSQL server at $PG (trust or password in the URL).
HAVE_PG=1
psql "$PG/postgres" -qAtc 'select 1' >/dev/null 2>&1 || {
  HAVE_PG=0
  echo "warning: no PostgreSQL at $PG: E and F (their PostgreSQL halves) and G are skipped" >&2
}
pgdb() { # create|drop name
  if [ "$1" = create ]; then psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" >/dev/null
  else psql "$PG/postgres" -qAtc "DROP DATABASE IF EXISTS $2" >/dev/null; fi
}

[ -n "${BENCH_SKIP_BUILD:-}" ] || cargo build --release -p portal-server -p portal-bench
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=$TARGET/release
BUILT=$(date +%s)
echo "build_s $((BUILT - START))" | tee -a "$RESULTS"

PIDS=()
SERVER=""
cleanup() { for p in "${PIDS[@]:-}" "$SERVER"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
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
    taskset -c "$GEN_CPU" /usr/bin/time -f "TIME %U %S %e" wrk -t1 -c"$CONNS" -d"$4"s --latency -s "$ROOT/crates/bench/verify.lua" "$1" >"$out" 2>&1 &
  local pid=$!
  wait $pid
  python3 - "$out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    n, u = re.match(r"([\d.]+)(us|ms|s|m)$", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]
try:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
except (AttributeError, KeyError):
    sys.exit("cannot read wrk's output:\n" + t)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if bad: sys.stderr.write(f"warning: {bad.group(1)} non-2xx answers\n")
u, s_, e = map(float, re.search(r"TIME ([\d.]+) ([\d.]+) ([\d.]+)", t).groups())
print(rps, p50, p99, round(100 * (u + s_) / e, 1))
PY
  rm -f "$out"
}

# Warm-up, then $RUNS runs; records the median (by rps) with wrk's CPU share.
measure() { # name url keys-file mode [warm-up seconds]
  local name=$1 url=$2 keys=$3 mode=$4 warm=${5:-2} runs=()
  wrk_once "$url" "$keys" "$mode" "$warm" >/dev/null
  local r
  for _ in $(seq 1 "$RUNS"); do
    r=$(wrk_once "$url" "$keys" "$mode" "$DUR") || { echo "$name: a wrk run failed" >&2; return 1; }
    runs+=("$r")
  done
  local med
  med=$(printf '%s\n' "${runs[@]}" | sort -n -k1 | sed -n "$(((RUNS + 1) / 2))p")
  echo "$name $med" | tee -a "$RESULTS"
}

serve() { # data-dir port [RUST_LOG] -> pid in SERVER
  PORTAL_DATA_DIR=$1 PORTAL_BIND=127.0.0.1:$2 PORTAL_GATEWAY_TOKEN=$TOKEN RUST_LOG=${3:-warn} \
    taskset -c $SRV_CPU "$BIN/portal-server" serve >>"$1/server.log" 2>&1 &
  SERVER=$!
}
stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

# --- A: ceiling -------------------------------------------------------------------------
# Measured at the start, and again just before B at each key count (A_ceiling_<n>): when
# something else shares the cores, the load drifts during the run, and each B ratio is
# taken against the ceiling measured next to it.
echo x >"$WORK/one.txt"
ceiling() { # name
  BENCH_BIND=127.0.0.1:7100 taskset -c $SRV_CPU "$BIN/bench-ceiling" & PIDS+=($!)
  wait_http http://127.0.0.1:7100/up
  measure "$1" http://127.0.0.1:7100/api/v1/verify "$WORK/one.txt" verify
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
}
on A && ceiling A_ceiling

# --- H: footprint (an empty, migrated SQLite data dir) -------------------------------------
if on H; then
  H=$WORK/footprint; rm -rf "$H"; mkdir -p "$H"
  serve "$H" 7400; wait_http http://127.0.0.1:7400/readyz; stop_server
  COLD=()
  for _ in 1 2 3; do
    t0=$(date +%s%N); serve "$H" 7400; wait_http http://127.0.0.1:7400/readyz; t1=$(date +%s%N)
    COLD+=($(((t1 - t0) / 1000000)))
    sleep 2; RSS=$(awk '/VmRSS/{print $2}' /proc/$SERVER/status)
    RSS_ANON=$(awk '/RssAnon/{print $2}' /proc/$SERVER/status)
    RSS_FILE=$(awk '/RssFile/{print $2}' /proc/$SERVER/status)
    stop_server
  done
  echo "H_cold_start_ms $(printf '%s\n' "${COLD[@]}" | sort -n | sed -n 2p)" | tee -a "$RESULTS"
  echo "H_idle_rss_kb $RSS" | tee -a "$RESULTS"
  echo "H_idle_rss_anon_kb $RSS_ANON" | tee -a "$RESULTS"
  echo "H_idle_rss_file_kb $RSS_FILE" | tee -a "$RESULTS"
fi

# --- B, C, D: verify, nginx and usage at each size -----------------------------------------
FIRST=$(echo "$SIZES" | awk '{print $1}')
USAGE_AT=$FIRST
for n in $SIZES; do [ "$n" -le 100000 ] && USAGE_AT=$n; done
NGINX_KEYS=""
if on B || on C || on D; then
  for n in $SIZES; do
    D=$WORK/keys-$n; rm -rf "$D"; mkdir -p "$D"
    t0=$(date +%s)
    # The keys' owner (workspace, project, subscription) through the API, then the keys.
    serve "$D" 7500; wait_http http://127.0.0.1:7500/readyz
    OWNER=$(python3 "$ROOT/crates/bench/owner.py" http://127.0.0.1:7500 "$D/server.log")
    stop_server
    # shellcheck disable=SC2086 # three ids
    "$BIN/bench-seed" "$n" "$D" $OWNER
    { echo "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;"; cat "$D/keys.sql"; } | sqlite3 "$D/portal.db"
    rm -f "$D/keys.sql"
    echo "seed_${n}_s $(($(date +%s) - t0))" | tee -a "$RESULTS"
    [ "$n" -le 100000 ] && NGINX_KEYS=$D
    if on B; then
      on A && ceiling "A_ceiling_$n"
      serve "$D" 7500; wait_http http://127.0.0.1:7500/readyz
      U=http://127.0.0.1:7500/api/v1/verify
      # Every hit key must be cached before the hit is measured: the warm-up looks each one
      # up (a miss, a database read) at least once, even when misses run at 2 000 a second.
      # The same 1 000 hot keys at every count (B_hit_<n>: what changes is only how many are
      # stored), then, where there are more, 20 000 (B_hit20k_<n>: a working set 20 times
      # larger, and 20 times more counters for the usage flusher to write).
      head -n 1000 "$D/hit.txt" >"$D/hot.txt"
      measure "B_hit_$n" "$U" "$D/hot.txt" verify $((2 + $(wc -l <"$D/hot.txt") / 2000))
      if [ "$(wc -l <"$D/hit.txt")" -gt 1000 ]; then
        measure "B_hit20k_$n" "$U" "$D/hit.txt" verify $((2 + $(wc -l <"$D/hit.txt") / 2000))
      fi
      measure "B_miss_$n" "$U" "$D/miss.txt" verify
      measure "B_bad_checksum_$n" "$U" "$D/bad.txt" verify
      measure "B_revoked_$n" "$U" "$D/revoked.txt" verify
      stop_server
    fi
    if on D && [ "$n" = "$USAGE_AT" ]; then
      : >"$D/server.log"
      serve "$D" 7500 "warn,portal_server::adapters=debug"; wait_http http://127.0.0.1:7500/readyz
      measure D_usage_events http://127.0.0.1:7500/api/v1/usage/events "$D/creds.txt" usage
      measure D_usage_batch50_requests http://127.0.0.1:7500/api/v1/usage/events "$D/creds.txt" usage_batch
      stop_server
      taskset -c $GEN_CPU python3 "$ROOT/crates/bench/flush.py" "$D/server.log" "$D/portal.db" "$RESULTS"
    fi
  done
fi

# --- C: nginx answering the same check from a map ------------------------------------------
if on C && [ -n "$NGINX_KEYS" ]; then
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
  measure "C_nginx_${NGINX_KEYS##*keys-}" http://127.0.0.1:7300/check "$NGINX_KEYS/hit.txt" nginx
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

# --- F: webhook deliveries against the receiver's own ceiling ------------------------------
if on F; then
  # The receiver has core 1 in both: wrk (core 0) measures its ceiling, then the server's
  # delivery worker (core 0) sends to it.
  BENCH_BIND=127.0.0.1:7200 taskset -c $GEN_CPU "$BIN/bench-receiver" & PIDS+=($!)
  wait_http http://127.0.0.1:7200/count
  GEN_CPU=$SRV_CPU measure F_receiver_ceiling http://127.0.0.1:7200/hook "$WORK/one.txt" webhook
  W=$WORK/webhooks; rm -rf "$W"
  taskset -c $GEN_CPU python3 "$ROOT/crates/bench/webhooks.py" "$BIN/portal-server" "$W" "$WEBHOOKS" "$RESULTS"
  # The same on PostgreSQL (its server is not pinned: it runs where the kernel puts it).
  if [ "$HAVE_PG" = 1 ]; then
    pgdb create bench_webhooks
    W=$WORK/webhooks-pg; rm -rf "$W"
    taskset -c $GEN_CPU python3 "$ROOT/crates/bench/webhooks.py" "$BIN/portal-server" "$W" "$WEBHOOKS" "$RESULTS" "$PG/bench_webhooks"
    pgdb drop bench_webhooks
  fi
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

# --- E: go-live queue, first vs last page, SQLite and PostgreSQL ---------------------------
if on E; then
  Q=$WORK/queue-sqlite; rm -rf "$Q"
  REPS=$QUEUE_REPS taskset -c $GEN_CPU python3 "$ROOT/crates/bench/queue.py" "$BIN/portal-server" "$Q" sqlite "$QUEUE_ROWS" "$RESULTS"
  rm -rf "$Q"
  if [ "$HAVE_PG" = 1 ]; then
    pgdb create bench_queue
    Q=$WORK/queue-pg; rm -rf "$Q"
    REPS=$QUEUE_REPS taskset -c $GEN_CPU python3 "$ROOT/crates/bench/queue.py" "$BIN/portal-server" "$Q" "$PG/bench_queue" "$QUEUE_ROWS" "$RESULTS"
    pgdb drop bench_queue
  fi
fi

# --- G: revocation seen by a second replica on PostgreSQL ----------------------------------
if on G && [ "$HAVE_PG" = 1 ]; then
  pgdb create bench_revocation
  R=$WORK/revocation; rm -rf "$R"
  taskset -c $GEN_CPU python3 "$ROOT/crates/bench/revocation.py" "$BIN/portal-server" "$PG/bench_revocation" "$R" "$REVOCATIONS" "$RESULTS"
  pgdb drop bench_revocation
fi

# --- I: nginx -> portal forward auth -> upstream, against nginx -> upstream alone -----------
# nginx (one worker), the portal and the upstream (bench-ceiling) share core 0, wrk has core 1:
# the same layout for both paths, in the same run. Beside the req/s, each process's CPU time per
# request (utime + stime from /proc/<pid>/stat over one more run of $BENCH_DURATION seconds).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_per_request() { # name url keys-file mode pid-name=pid...
  local name=$1 url=$2 keys=$3 mode=$4; shift 4
  local before=() p
  for p in "$@"; do before+=("$(cpu_ticks "${p#*=}")"); done
  local r; r=$(wrk_once "$url" "$keys" "$mode" "$DUR")
  local reqs; reqs=$(awk -v r="${r%% *}" -v d="$DUR" 'BEGIN{printf "%d", r * d}')
  local hz; hz=$(getconf CLK_TCK)
  local i=0
  for p in "$@"; do
    local after; after=$(cpu_ticks "${p#*=}")
    awk -v n="${name}_${p%%=*}_cpu_us_per_req" -v t=$((after - before[i])) -v hz="$hz" -v q="$reqs" \
      'BEGIN{printf "%s %.2f\n", n, t * 1e6 / hz / q}' | tee -a "$RESULTS"
    i=$((i + 1))
  done
}
if on I; then
  I=$WORK/forward-auth; rm -rf "$I"; mkdir -p "$I/nginx/tmp"
  serve "$I" 7600; wait_http http://127.0.0.1:7600/readyz
  OWNER=$(python3 "$ROOT/crates/bench/owner.py" http://127.0.0.1:7600 "$I/server.log")
  stop_server
  # shellcheck disable=SC2086 # three ids
  "$BIN/bench-seed" 1000 "$I" $OWNER
  { echo "PRAGMA synchronous = OFF;"; cat "$I/keys.sql"; } | sqlite3 "$I/portal.db"
  rm -f "$I/keys.sql"
  head -n 1000 "$I/hit.txt" >"$I/hot.txt"
  BENCH_BIND=127.0.0.1:7610 taskset -c $SRV_CPU "$BIN/bench-ceiling" & PIDS+=($!)
  UPSTREAM=${PIDS[-1]}
  wait_http http://127.0.0.1:7610/up
  serve "$I" 7600; wait_http http://127.0.0.1:7600/readyz
  NI=$I/nginx
  # The nginx recipe of docs/gateways.md (7620), and the same server without auth_request (7621).
  cat >"$NI/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
error_log $NI/error.log warn;
pid $NI/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $NI/tmp/body; proxy_temp_path $NI/tmp/proxy;
  fastcgi_temp_path $NI/tmp/fastcgi; uwsgi_temp_path $NI/tmp/uwsgi; scgi_temp_path $NI/tmp/scgi;
  upstream portal { server 127.0.0.1:7600; keepalive 64; }
  upstream app { server 127.0.0.1:7610; keepalive 64; }
  server {
    listen 127.0.0.1:7620;
    location = /_portal_auth {
      internal;
      proxy_pass http://portal/api/v1/forward-auth?environment=sandbox;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method \$request_method;
      proxy_set_header X-Original-URI \$request_uri;
      proxy_set_header X-Portal-Gateway-Token "$TOKEN";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location / {
      auth_request /_portal_auth;
      auth_request_set \$portal_workspace \$upstream_http_x_portal_workspace;
      auth_request_set \$portal_project \$upstream_http_x_portal_project;
      auth_request_set \$portal_credential \$upstream_http_x_portal_credential;
      auth_request_set \$portal_environment \$upstream_http_x_portal_environment;
      auth_request_set \$portal_plan \$upstream_http_x_portal_plan;
      proxy_set_header X-Portal-Workspace \$portal_workspace;
      proxy_set_header X-Portal-Project \$portal_project;
      proxy_set_header X-Portal-Credential \$portal_credential;
      proxy_set_header X-Portal-Environment \$portal_environment;
      proxy_set_header X-Portal-Plan \$portal_plan;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
  server {
    listen 127.0.0.1:7621;
    location / {
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
}
NGINX
  taskset -c $SRV_CPU nginx -p "$NI" -c "$NI/nginx.conf" -e "$NI/error.log" & PIDS+=($!)
  NGINX_PID=${PIDS[-1]}
  wait_http http://127.0.0.1:7621/accounts
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(head -n1 "$I/hot.txt")" http://127.0.0.1:7620/accounts)
  [ "$code" = 200 ] || { echo "I: a seeded key through nginx answered $code" >&2; exit 1; }
  measure I_nginx_alone http://127.0.0.1:7621/accounts "$I/hot.txt" gateway
  measure I_nginx_forward_auth http://127.0.0.1:7620/accounts "$I/hot.txt" gateway
  cpu_per_request I_nginx_alone http://127.0.0.1:7621/accounts "$I/hot.txt" gateway \
    nginx="$NGINX_PID" upstream="$UPSTREAM"
  cpu_per_request I_nginx_forward_auth http://127.0.0.1:7620/accounts "$I/hot.txt" gateway \
    nginx="$NGINX_PID" portal="$SERVER" upstream="$UPSTREAM"
  kill "$NGINX_PID" "$UPSTREAM"; wait "$NGINX_PID" "$UPSTREAM" 2>/dev/null || true
  stop_server
fi

TOTAL=$(($(date +%s) - START))
echo "total_s $TOTAL" | tee -a "$RESULTS"
echo "load_avg_1m_at_end $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$RESULTS"
python3 "$ROOT/crates/bench/report.py" "$RESULTS" "$ROOT/docs/benchmarks.json" "$ROOT/docs/benchmarks.md"
