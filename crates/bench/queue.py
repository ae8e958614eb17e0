"""E: the go-live queue's first against last page at N subscriptions in review, on SQLite or
PostgreSQL.

One real submission is made through the API (staff creates a plan, a developer subscribes
and submits); with the server stopped, its `subscription` row is copied N - 1 times by SQL
(new ids, same workspace, project, plan, phase and submission time), then the server is
started again. Measured, $REPS times each (p50/p99, milliseconds):
- API keyset: `GET /api/v1/review-queue?limit=50` (staff PAT) for the first page, and with the
  cursor of the row before the last 50 for the last page (the cursor the API would have
  handed out there: `<submitted_at>~<id>`);
- SQL, beside it (the API has no OFFSET paging): the store's query, keyset and
  `LIMIT 50 OFFSET N-50`, run directly on the database (sqlite3 module; psql with \\timing).

usage: queue.py <portal-server binary> <work dir> <sqlite | postgres://...> <N> <results.tsv>
"""
import calendar
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import portal  # noqa: E402

binary, work, backend, n, results = sys.argv[1:6]
n = int(n)
reps = int(os.environ.get("REPS", "100"))
srv_cpu = os.environ.get("SRV_CPU", "0")
pg = backend.startswith("postgres")
tag = "pg" if pg else "sqlite"
os.makedirs(work, exist_ok=True)
BASE = "http://127.0.0.1:7800"
COLS = ("id, workspace_id, project_id, plan_id, phase, submitted_at, phase_data, sandbox_access, "
        "answers, sign_offs, history, production_project_id, created_at, created_by, version")
ORDER = "ORDER BY submitted_at, id"


def serve(log_name):
    env = dict(os.environ, PORTAL_DATA_DIR=work, PORTAL_BIND="127.0.0.1:7800",
               PORTAL_GATEWAY_TOKEN=portal.GATEWAY_TOKEN, RUST_LOG="warn")
    if pg:
        env["PORTAL_DATABASE_URL"] = backend
    log = os.path.join(work, log_name)
    p = subprocess.Popen(["taskset", "-c", srv_cpu, binary, "serve"], env=env,
                         stdout=open(log, "w"), stderr=subprocess.STDOUT)
    portal.wait_ready(BASE, timeout=120)
    return p, log


def stop(p):
    p.terminate()
    p.wait(60)


def psql(sql):
    out = subprocess.run(["psql", backend, "-qAtX", "-v", "ON_ERROR_STOP=1"], input=sql, text=True,
                         capture_output=True, check=True)
    return out.stdout


def answers_for(dev, sub):
    view = dev.get(f"/api/v1/subscriptions/{sub}")
    out = {}
    for step in (view.get("form") or {}).get("steps", []):
        for f in step.get("fields", []):
            opts = f.get("options") or []
            out[f["key"]] = opts[0] if opts else "Nightly balance sync, balances kept 30 days"
    return out


# 1. One real submission through the API.
p, log = serve("server-1.log")
try:
    admin = portal.staff(BASE, portal.admin_password(log))
    plan = portal.simple_plan(admin)
    dev = portal.developer(BASE, f"queue-{tag}@bench.example")
    o = portal.onboard(dev, plan)
    portal.credential(dev, o["sub"])
    dev.post(f"/api/v1/subscriptions/{o['sub']}/submit", {"answers": answers_for(dev, o["sub"])})
    first = admin.get("/api/v1/review-queue?limit=50")
    assert len(first["items"]) == 1, first
finally:
    stop(p)

# 2. N - 1 copies of its row, submitted one second apart from 2026-01-01 on (before the real
# one), the submission time rewritten in both the column and the phase's JSON.
t0 = time.time()
import json  # noqa: E402
if pg:
    phase_data = psql(f"SELECT phase_data FROM subscription WHERE id = '{o['sub']}';").strip()
else:
    db = sqlite3.connect(os.path.join(work, "portal.db"), isolation_level=None)
    phase_data = db.execute("SELECT phase_data FROM subscription WHERE id = ?", (o["sub"],)).fetchone()[0]
phase_ts = json.loads(phase_data)["submitted_at"]
copy_cols = COLS.replace("id, ", "", 1)
if pg:
    ts = "(timestamptz '2026-01-01 00:00:00.123456+00' + i * interval '1 second')"
    psql(f"INSERT INTO subscription ({COLS}) SELECT 'sub_0' || lpad(i::text, 25, '0'), "
         + copy_cols.replace("submitted_at, phase_data",
                             f"{ts}, replace(phase_data, '{phase_ts}', to_char({ts} AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '000Z')")
         + f" FROM generate_series(1, {n - 1}) AS i, subscription WHERE subscription.id = '{o['sub']}';"
         " ANALYZE subscription;")
else:
    # The text the store writes (nine fraction digits, as sqlx encodes these instants).
    ts = "strftime('%Y-%m-%dT%H:%M:%S', '2026-01-01 00:00:00', '+' || i || ' seconds')"
    db.execute(f"INSERT INTO subscription ({COLS}) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
               f"SELECT i + 1 FROM c WHERE i < {n - 1}) SELECT printf('sub_0%025d', i), "
               + copy_cols.replace("submitted_at, phase_data",
                                   f"{ts} || '.123456789+00:00', replace(phase_data, '{phase_ts}', "
                                   f"{ts} || '.123456789Z')")
               + " FROM c, subscription WHERE subscription.id = ?", (o["sub"],))
    db.execute("ANALYZE")
seed_s = time.time() - t0
print(f"E ({tag}): {n} subscriptions in review, copies written in {seed_s:.1f} s", file=sys.stderr)

def cursor_nanos(at):
    """The API cursor's time: nanoseconds since 1970 of `YYYY-MM-DDTHH:MM:SS.fraction[Z|+00:00]`."""
    base, frac = at.replace("Z", "").split("+")[0].split(".")
    seconds = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 10**9 + int(frac.ljust(9, "0")[:9])


# The rows before the second and the last page: the keys their cursors carry.
def key_at(offset):
    """(the column's value for SQL, the API cursor) of the row at `offset` in queue order."""
    if pg:
        at, id_ = psql("SELECT to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), id "
                       f"FROM subscription WHERE phase = 'in_review' {ORDER} LIMIT 1 OFFSET {offset};"
                       ).strip().split("|")
        return (at + "+00", id_), f"{cursor_nanos(at)}~{id_}"
    at, id_ = db.execute(f"SELECT submitted_at, id FROM subscription WHERE phase = 'in_review' {ORDER} "
                         f"LIMIT 1 OFFSET {offset}").fetchone()
    return (at, id_), f"{cursor_nanos(at)}~{id_}"


second_key, second_cursor = key_at(49)
last_key, last_cursor = key_at(n - 51)


def sql_keyset(key):
    """The store's keyset query after `key`."""
    at, id_ = key
    if pg:
        return (f"SELECT {COLS} FROM subscription WHERE phase = 'in_review' AND submitted_at >= '{at}' "
                f"AND (submitted_at > '{at}' OR (submitted_at = '{at}' AND id > '{id_}')) {ORDER} LIMIT 50"), ()
    return (f"SELECT {COLS} FROM subscription WHERE phase = 'in_review' AND submitted_at >= ? "
            f"AND (submitted_at > ? OR (submitted_at = ? AND id > ?)) {ORDER} LIMIT 50"), (at, at, at, id_)


def sql_offset(off):
    return f"SELECT {COLS} FROM subscription WHERE phase = 'in_review' {ORDER} LIMIT 50 OFFSET {off}", ()


def time_sql(sql, params=(), reps=reps):
    """p50, p99 in ms of `reps` runs of one query."""
    if pg:
        out = psql("\\timing on\n" + "\n".join([sql + ";"] * reps))
        ts = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", out)]
        assert out.count("\n") >= 50 * reps, out[:500]
    else:
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            rows = db.execute(sql, params).fetchall()
            ts.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 50, len(rows)
    return portal.percentile(ts, 50), portal.percentile(ts, 99)


lines = []
for name, (sql, params) in [
    ("sql_offset_first", sql_offset(0)),
    ("sql_offset_second", sql_offset(50)),
    ("sql_offset_last", sql_offset(n - 50)),
    ("sql_keyset_first", (f"SELECT {COLS} FROM subscription WHERE phase = 'in_review' {ORDER} LIMIT 50", ())),
    ("sql_keyset_second", sql_keyset(second_key)),
    ("sql_keyset_last", sql_keyset(last_key)),
]:
    # OFFSET is shown for contrast (its last page takes 0.1-0.4 s): 60 runs give its p50;
    # the keyset queries, whose ratios are the targets, run `reps` times.
    p50, p99 = time_sql(sql, params, min(reps, 60) if "offset" in name else reps)
    lines.append(f"E_{tag}_{name} {p50:.2f} {p99:.2f}")
    print(lines[-1], file=sys.stderr)
if not pg:
    db.close()

# 3. The API, keyset: first, second and last page.
p, _ = serve("server-2.log")
try:
    admin.conn = None
    page = admin.get("/api/v1/review-queue?limit=50")
    assert page["next_cursor"] == second_cursor, (page["next_cursor"], second_cursor)
    pages = [("api_keyset_first", "/api/v1/review-queue?limit=50"),
             ("api_keyset_second", f"/api/v1/review-queue?limit=50&cursor={second_cursor}"),
             ("api_keyset_last", f"/api/v1/review-queue?limit=50&cursor={last_cursor}")]
    for _, path in pages:
        for _ in range(5):
            admin.get(path)
    # Interleaved (first, second, last, first, ...), so a change of load during the
    # measurement weighs on every page alike.
    ts = {name: [] for name, _ in pages}
    for _ in range(reps):
        for name, path in pages:
            t = time.perf_counter()
            r = admin.get(path)
            ts[name].append((time.perf_counter() - t) * 1000)
            assert len(r["items"]) == 50, (name, len(r["items"]))
    assert r["items"][-1]["subscription_id"] == o["sub"], r["items"][-1]
    for name, _ in pages:
        lines.append(f"E_{tag}_{name} {portal.percentile(ts[name], 50):.2f} {portal.percentile(ts[name], 99):.2f}")
        print(lines[-1], file=sys.stderr)
finally:
    stop(p)

with open(results, "a") as f:
    f.write(f"E_{tag}_rows {n}\nE_{tag}_seed_s {seed_s:.0f}\n")
    for line in lines:
        f.write(line + "\n")
