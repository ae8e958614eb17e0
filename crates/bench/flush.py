"""D, second half: the usage flusher's rows per second against a raw batched-insert ceiling
on the same SQLite database.

The server's log (RUST_LOG=portal_server::adapters=debug) has one `usage flushed buckets=N
elapsed_us=T` line per flush; the server's rate is sum(N) / sum(T) over the flushes of at
least 1000 rows. The ceiling writes the same number of rows (the median flush size) into
`usage_bucket` the way the store does: multi-row `INSERT ... ON CONFLICT DO UPDATE` of 500
rows each, all in one transaction, from Python's sqlite3 module (C underneath); median of 3.

usage: flush.py <server log> <portal.db> <results.tsv>
"""
import re
import sqlite3
import statistics
import sys
import time

log, db_path, results = sys.argv[1:4]
text = re.sub(r"\x1b\[[0-9;]*m", "", open(log, errors="replace").read())
flushes = [(int(b), int(t)) for b, t in re.findall(r"usage flushed buckets=(\d+) elapsed_us=(\d+)", text)]
big = [(b, t) for b, t in flushes if b >= 1000]
if not big:
    raise SystemExit(f"no flush of at least 1000 rows in {log} ({len(flushes)} flushes)")
server_rate = sum(b for b, _ in big) / (sum(t for _, t in big) / 1e6)
size = int(statistics.median(b for b, _ in big))

db = sqlite3.connect(db_path, isolation_level=None)
cols = [r[1] for r in db.execute("PRAGMA table_info(usage_bucket)")]
sample = db.execute(f"SELECT {', '.join(cols)} FROM usage_bucket LIMIT 1").fetchone()
row = dict(zip(cols, sample))
creds = [r[0] for r in db.execute("SELECT id FROM credential LIMIT ?", (size,))]
creds = (creds * (size // max(1, len(creds)) + 1))[:size]
CHUNK = 500
placeholders = "(" + ", ".join("?" for _ in cols) + ")"
update = "requests = usage_bucket.requests + excluded.requests, errors = usage_bucket.errors + excluded.errors"
rates = []
for run in range(3):
    # A bucket start no flush used (the sample's, with another year), so every row is new.
    start = re.sub(r"^\d{4}", str(2100 + run), str(row["bucket_start"]))
    rows = []
    for i, c in enumerate(creds):
        r = dict(row, credential_id=c, bucket_start=start, endpoint=f"GET /bench/{i}")
        rows.append([r[k] for k in cols])
    t0 = time.perf_counter()
    db.execute("BEGIN")
    for k in range(0, len(rows), CHUNK):
        chunk = rows[k:k + CHUNK]
        db.execute(f"INSERT INTO usage_bucket ({', '.join(cols)}) VALUES "
                   + ", ".join([placeholders] * len(chunk))
                   + f" ON CONFLICT (credential_id, endpoint, bucket_start) DO UPDATE SET {update}",
                   [v for r in chunk for v in r])
    db.execute("COMMIT")
    rates.append(len(rows) / (time.perf_counter() - t0))
db.execute("DELETE FROM usage_bucket WHERE bucket_start >= '2100'")
ceiling = statistics.median(rates)
with open(results, "a") as f:
    f.write(f"D_flush_rows_per_s {server_rate:.0f}\nD_flush_ceiling_rows_per_s {ceiling:.0f}\n"
            f"D_flush_batch_rows {size}\nD_flushes {len(big)}\n")
print(f"D flush: server {server_rate:.0f} rows/s over {len(big)} flushes of ~{size} rows; "
      f"raw batched upsert {ceiling:.0f} rows/s")
