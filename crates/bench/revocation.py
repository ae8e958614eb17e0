"""G: how long until a second replica refuses a revoked secret, on PostgreSQL.

Two `portal-server serve` processes (core $SRV_CPU) on one PostgreSQL database. Each round:
a new sandbox key is created through replica 1, verified on replica 2 until cached as valid,
revoked through replica 1's API, then verified on replica 2 in a tight loop (from core
$GEN_CPU) until it answers `revoked`. The time is counted from just before the revoke request
is sent (so it includes the revoke call itself) to the first refusal.

usage: revocation.py <portal-server binary> <postgres url> <work dir> <rounds> <results.tsv>
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import portal  # noqa: E402

binary, url, work, rounds, results = sys.argv[1:6]
rounds = int(rounds)
srv_cpu = os.environ.get("SRV_CPU", "0")
os.makedirs(work, exist_ok=True)
procs = []
# Replicas share one vault key (docs/operations.md): each data directory would make its own.
vault_key = os.path.join(work, "vault.key")
if not os.path.exists(vault_key):
    with open(vault_key, "w") as f:
        f.write(os.urandom(32).hex())


def serve(port, name):
    log = os.path.join(work, f"{name}.log")
    env = dict(os.environ, PORTAL_DATA_DIR=os.path.join(work, name), PORTAL_BIND=f"127.0.0.1:{port}",
               PORTAL_DATABASE_URL=url, PORTAL_GATEWAY_TOKEN=portal.GATEWAY_TOKEN, RUST_LOG="warn",
               PORTAL_VAULT_KEY_FILE=vault_key)
    os.makedirs(env["PORTAL_DATA_DIR"], exist_ok=True)
    p = subprocess.Popen(["taskset", "-c", srv_cpu, binary, "serve"], env=env,
                         stdout=open(log, "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    base = f"http://127.0.0.1:{port}"
    portal.wait_ready(base)
    return base, log


try:
    base1, log1 = serve(7601, "replica1")
    base2, _ = serve(7602, "replica2")
    admin = portal.staff(base1, portal.admin_password(log1))
    plan = portal.simple_plan(admin)
    dev = portal.developer(base1, "revocation@bench.example")
    o = portal.onboard(dev, plan)
    gw2 = portal.Api(base2, portal.GATEWAY_TOKEN)
    took = []
    for i in range(rounds):
        cred, secret = portal.credential(dev, o["sub"], f"round {i}")
        for _ in range(3):
            v = portal.verify(gw2, secret)
            assert v["valid"], v
        t0 = time.perf_counter()
        dev.post(f"/api/v1/credentials/{cred}/revoke")
        t_revoked = time.perf_counter()
        polls = 0
        while True:
            v = portal.verify(gw2, secret)
            polls += 1
            if not v["valid"]:
                assert v["reason"] == "revoked", v
                break
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"round {i}: replica 2 still accepts the secret after 10 s")
        ms = (time.perf_counter() - t0) * 1000
        took.append(ms)
        print(f"round {i}: refused after {ms:.1f} ms (revoke call {1000 * (t_revoked - t0):.1f} ms, "
              f"{polls} polls)", file=sys.stderr)
    p50, p99 = portal.percentile(took, 50), portal.percentile(took, 99)
    with open(results, "a") as f:
        f.write(f"G_revocation_p50_ms {p50:.1f}\nG_revocation_p99_ms {p99:.1f}\n"
                f"G_revocation_max_ms {max(took):.1f}\nG_revocation_rounds {len(took)}\n")
    print(f"G: {len(took)} rounds, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(took):.1f} ms")
finally:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
