"""F: signed webhook deliveries per second from the server's delivery worker to
`bench-receiver` (already listening on $RECEIVER, pinned to its own core by run.sh).

A fresh SQLite data dir: a sandbox project registers an endpoint on the receiver through the
API (the receiver echoes the verification challenge, so it becomes `verified`) and sends one
test event through the API. The server is stopped, that test event's outbox row is copied
N times (new message ids, not yet dispatched), and the server is started again: the rate is
N over the time between the first and the last delivery the receiver saw (every one signed,
fanned out, leased and recorded by the worker).

With a PostgreSQL URL as fifth argument the server runs on that (empty) database instead of
SQLite, the rows are copied with psql, and the figures are recorded as F_pg_*.

usage: webhooks.py <portal-server binary> <work dir> <N> <results.tsv> [postgres://...]
"""
import os
import random
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import portal  # noqa: E402

binary, work, n, results = sys.argv[1:5]
backend = sys.argv[5] if len(sys.argv) > 5 else "sqlite"
pg = backend.startswith("postgres")
tag = "F_pg" if pg else "F"
n = int(n)
receiver = os.environ.get("RECEIVER", "http://127.0.0.1:7200")
srv_cpu = os.environ.get("SRV_CPU", "0")
os.makedirs(work, exist_ok=True)
rx = portal.Api(receiver)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid():
    v = (int(time.time() * 1000) << 80) | random.getrandbits(80)
    return "".join(CROCKFORD[(v >> (5 * i)) & 31] for i in range(25, -1, -1))


def serve(log_name):
    env = dict(os.environ, PORTAL_DATA_DIR=work, PORTAL_BIND="127.0.0.1:7700",
               PORTAL_GATEWAY_TOKEN=portal.GATEWAY_TOKEN, PORTAL_WEBHOOK_ALLOW_PRIVATE="true",
               RUST_LOG="warn")
    if pg:
        env["PORTAL_DATABASE_URL"] = backend
    log = os.path.join(work, log_name)
    p = subprocess.Popen(["taskset", "-c", srv_cpu, binary, "serve"], env=env,
                         stdout=open(log, "w"), stderr=subprocess.STDOUT)
    portal.wait_ready("http://127.0.0.1:7700")
    return p, log


def stop(p):
    p.terminate()
    p.wait(30)


def wait_count(target, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = rx.get("/stats")
        if s["count"] >= target:
            return s
        time.sleep(0.05)
    raise SystemExit(f"the receiver saw {rx.get('/stats')['count']} deliveries, expected {target}")


p, log = serve("server-1.log")
try:
    base = "http://127.0.0.1:7700"
    admin = portal.staff(base, portal.admin_password(log))
    plan = portal.simple_plan(admin)
    dev = portal.developer(base, "webhooks@bench.example")
    o = portal.onboard(dev, plan)
    ep = dev.post(f"/api/v1/projects/{o['project']}/webhook-endpoints",
                  {"url": f"{receiver}/hook", "events": ["credential.revoked"]})["endpoint"]
    deadline = time.time() + 30
    while dev.get(f"/api/v1/webhook-endpoints/{ep['id']}")["status"] != "verified":
        if time.time() > deadline:
            raise SystemExit("the endpoint was not verified within 30 s")
        time.sleep(0.1)
    before = rx.get("/stats")["count"]
    sent = dev.post(f"/api/v1/webhook-endpoints/{ep['id']}/test")
    wait_count(before + 1, 30)
finally:
    stop(p)

COLS = "id, workspace_id, project_id, event_type, payload, target_endpoint, created_at"
prefix = sent["message_id"].split("_", 1)[0]
t0 = time.perf_counter()
if pg:
    ids = ",".join(f"('{prefix}_{ulid()}')" for _ in range(n))
    subprocess.run(["psql", backend, "-qAtX", "-v", "ON_ERROR_STOP=1"], text=True, check=True,
                   capture_output=True,
                   input=f"INSERT INTO outbox_message ({COLS}) SELECT v.id, m.workspace_id, "
                         "m.project_id, m.event_type, m.payload, m.target_endpoint, m.created_at "
                         f"FROM outbox_message m, (VALUES {ids}) AS v(id) "
                         f"WHERE m.id = '{sent['message_id']}';")
else:
    db = sqlite3.connect(os.path.join(work, "portal.db"))
    row = db.execute(f"SELECT {COLS} FROM outbox_message WHERE id = ?", (sent["message_id"],)).fetchone()
    assert row, sent
    with db:
        db.executemany(f"INSERT INTO outbox_message ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       ((f"{prefix}_{ulid()}",) + tuple(row[1:]) for _ in range(n)))
    db.close()
print(f"{tag}: {n} test events queued in {time.perf_counter() - t0:.2f} s", file=sys.stderr)

rx.post("/reset")
p, _ = serve("server-2.log")
try:
    ready = time.time()
    s = wait_count(n, max(60, n / 50))
    span = (s["last_us"] - s["first_us"]) / 1e6
    rate = (s["count"] - 1) / span if span > 0 else 0
    print(f"{tag}: {s['count']} deliveries in {span:.2f} s ({rate:.0f}/s); first one "
          f"{s['first_us'] / 1e6 - ready:.2f} s after ready", file=sys.stderr)
    with open(results, "a") as f:
        f.write(f"{tag}_webhook_deliveries {rate:.1f}\n{tag}_webhook_count {s['count']}\n")
finally:
    stop(p)
