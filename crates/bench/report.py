"""Turns target/bench/results.tsv into docs/benchmarks.json and the figures section of
docs/benchmarks.md (between <!-- BEGIN FIGURES --> and <!-- END FIGURES -->).

A results line is `name v1 [v2 ...]`: four values are a wrk figure (req/s, p50 ms, p99 ms,
wrk's CPU %), two a latency (p50 ms, p99 ms), one a plain value."""
import json, os, platform, re, sys, time

res, out_json, out_md = sys.argv[1:4]
rows = {}
for line in open(res):
    parts = line.split()
    if not parts:
        continue
    vals = [float(x) for x in parts[1:]]
    if len(vals) == 4:
        rows[parts[0]] = {"rps": vals[0], "p50_ms": vals[1], "p99_ms": vals[2], "wrk_cpu_pct": vals[3]}
    elif len(vals) == 2:
        rows[parts[0]] = {"p50_ms": vals[0], "p99_ms": vals[1]}
    else:
        rows[parts[0]] = {"value": vals[0]}

# A partial run (BENCH_ONLY) keeps the previous figures of the scenarios it did not run (and
# the previous run's load, build and total), so that one scenario can be re-measured without
# losing the others; the header says so.
RUN_WIDE = {"total_s", "build_s", "load_avg_1m_at_start", "load_avg_1m_at_end"}
only = os.environ.get("BENCH_ONLY", "").split()
kept_from = None
if only and os.path.exists(out_json):
    prev = json.load(open(out_json))
    ran = tuple(f"{s}_" for s in only)
    kept = {k: v for k, v in prev.get("figures", {}).items()
            if (k in RUN_WIDE or k not in rows) and not k.startswith(ran)}
    if kept:
        kept_from = prev.get("machine", {}).get("date")
        # This run's load, build and total under its own names beside the kept run's.
        tag = "".join(only)
        mine = {(f"{tag}_run_{k}" if k in RUN_WIDE else k): v for k, v in rows.items()}
        rows = {**kept, **mine}

cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip()
        break
mem_kb = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
machine = {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_kb / 1024 / 1024, 1),
           "kernel": platform.release(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "load_avg_1m_at_start": rows.get("load_avg_1m_at_start", {}).get("value"),
           "load_avg_1m_at_end": rows.get("load_avg_1m_at_end", {}).get("value")}


def get(k, field):
    return rows.get(k, {}).get(field)


def rps(k):
    return get(k, "rps")


def value(k):
    return get(k, "value")


sizes = sorted(int(k.split("_")[-1]) for k in rows if k.startswith("B_hit_"))
a = rps("A_ceiling")
ratios = []


def ratio(name, num, den, target=None, cmp=">="):
    """`target` None: reported for context, no target."""
    if num is None or den is None or den == 0:
        ratios.append({"name": name, "ratio": None, "target": target and f"{cmp} {target}", "met": None})
        return
    r = num / den
    met = None if target is None else (r >= target if cmp == ">=" else r <= target)
    ratios.append({"name": name, "ratio": round(r, 3), "target": None if target is None else f"{cmp} {target}",
                   "met": met})


def absolute(name, v, target, cmp="<="):
    if v is None:
        ratios.append({"name": name, "ratio": None, "target": f"{cmp} {target}", "met": None})
        return
    met = v <= target if cmp == "<=" else v >= target
    ratios.append({"name": name, "ratio": v, "target": f"{cmp} {target}", "met": met})


def a_at(n):
    """The ceiling measured just before B at this key count (else the first one)."""
    return rps(f"A_ceiling_{n}") or a


for n in sizes:
    ratio(f"B verify hit, 1000 hot keys ({n} stored) / A ceiling", rps(f"B_hit_{n}"), a_at(n), 0.85)
for n in sizes:
    if f"B_hit20k_{n}" in rows:
        ratio(f"B verify hit, 20000 hot keys ({n} stored) / A ceiling", rps(f"B_hit20k_{n}"), a_at(n), 0.85)
if len(sizes) > 1:
    ratio(f"B verify hit {sizes[-1]} stored / {sizes[0]} stored (1000 hot keys in both)",
          rps(f"B_hit_{sizes[-1]}"), rps(f"B_hit_{sizes[0]}"), 0.9)
big = [n for n in sizes if f"B_hit20k_{n}" in rows]
if len(big) > 1:
    ratio(f"B verify hit {big[-1]} stored / {big[0]} stored (20000 hot keys in both)",
          rps(f"B_hit20k_{big[-1]}"), rps(f"B_hit20k_{big[0]}"), 0.9)
for n in sizes:
    for case in ("miss", "bad_checksum", "revoked"):
        ratio(f"B verify {case.replace('_', ' ')} ({n} keys) / A ceiling", rps(f"B_{case}_{n}"), a_at(n))
for k in rows:
    if k.startswith("C_nginx_"):
        n = k.split("_")[-1]
        # nginx is asked with the 20 000-key list (when the count has that many): compared
        # with the portal's hit on the same list.
        hot = "20000" if f"B_hit20k_{n}" in rows else "1000"
        mine = rps(f"B_hit20k_{n}") if hot == "20000" else rps(f"B_hit_{n}")
        ratio(f"C verify hit / nginx map ({n} stored, {hot} hot keys)", mine, rps(k), 0.6)
# D runs at the largest key count up to 1e5, right after B there.
d_at = max([n for n in sizes if n <= 100000] or sizes[:1] or [0])
ratio("D usage events, 1 per request / A ceiling", rps("D_usage_events"), a_at(d_at), 0.8)
if rps("D_usage_batch50_requests") is not None:
    ratio("D usage events, 50 per request / A ceiling (events/s over req/s)",
          50 * rps("D_usage_batch50_requests"), a_at(d_at), 0.8)
ratio("D flushed rows/s / raw batched upsert on the same SQLite", value("D_flush_rows_per_s"),
      value("D_flush_ceiling_rows_per_s"))
for tag in ("sqlite", "pg"):
    if f"E_{tag}_rows" in rows:
        label = {"sqlite": "SQLite", "pg": "PostgreSQL"}[tag]
        n = int(value(f"E_{tag}_rows"))
        for q in ("p50", "p99"):
            ratio(f"E {label} API keyset last / first page, {q} ({n} rows)",
                  get(f"E_{tag}_api_keyset_last", f"{q}_ms"), get(f"E_{tag}_api_keyset_first", f"{q}_ms"),
                  1.2, "<=")
        ratio(f"E {label} SQL keyset last / first page, p50", get(f"E_{tag}_sql_keyset_last", "p50_ms"),
              get(f"E_{tag}_sql_keyset_first", "p50_ms"), 1.2, "<=")
        ratio(f"E {label} SQL OFFSET last / first page, p50 (shown beside keyset)",
              get(f"E_{tag}_sql_offset_last", "p50_ms"), get(f"E_{tag}_sql_offset_first", "p50_ms"))
ratio("F signed webhook deliveries/s / receiver ceiling (SQLite)", value("F_webhook_deliveries"),
      rps("F_receiver_ceiling"), 0.8)
if "F_pg_webhook_deliveries" in rows:
    ratio("F signed webhook deliveries/s / receiver ceiling (PostgreSQL)", value("F_pg_webhook_deliveries"),
          rps("F_receiver_ceiling"), 0.8)
absolute("G revocation seen by replica 2, p50 (ms)", value("G_revocation_p50_ms"), 1000)
absolute("G revocation seen by replica 2, p99 (ms)", value("G_revocation_p99_ms"), 1000)
ratio("I nginx -> portal forward auth -> upstream / nginx -> upstream alone (req/s)",
      rps("I_nginx_forward_auth"), rps("I_nginx_alone"))
for who in ("nginx", "portal", "upstream"):
    for path in ("alone", "forward_auth"):
        v = value(f"I_nginx_{path}_{who}_cpu_us_per_req")
        if v is not None:
            ratios.append({"name": f"I {who} CPU µs per request, nginx {path.replace('_', ' ')}",
                           "ratio": v, "target": None, "met": None})
absolute("H cold start to ready (ms)", value("H_cold_start_ms"), 300)
rss = value("H_idle_rss_kb")
# MiB, as ps and top show it; the same figure in 10^6 bytes and its two parts for context.
absolute("H idle RSS (MiB, as ps and top show it)", None if rss is None else round(rss / 1024, 1), 30)
if rss is not None:
    ratios.append({"name": "H idle RSS in 10^6 bytes (MB)", "ratio": round(rss * 1024 / 1e6, 1),
                   "target": None, "met": None})
for part, what in (("anon", "anonymous: heap, stacks, caches"),
                   ("file", "file-backed: the binary's code pages, clean and shared")):
    kb = value(f"H_idle_rss_{part}_kb")
    if kb is not None:
        ratios.append({"name": f"H idle RSS, {what} (MiB)", "ratio": round(kb / 1024, 1),
                       "target": None, "met": None})

doc = {"machine": machine, "ratios": ratios, "figures": rows,
       "settings": {k: os.environ.get(k) for k in ("BENCH_SIZES", "BENCH_RUNS", "BENCH_DURATION",
                                                   "BENCH_CONNECTIONS", "BENCH_QUEUE_ROWS",
                                                   "BENCH_WEBHOOKS", "BENCH_REVOCATIONS", "BENCH_ONLY")}}
with open(out_json, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

md = [f"Measured {machine['date']} on {machine['nproc']} × {machine['cpu']}, {machine['memory_gb']} GB "
      f"(kernel {machine['kernel']}); load average (1 min) {machine['load_avg_1m_at_start']} at the start, "
      f"{machine['load_avg_1m_at_end']} at the end; total run {int(value('total_s') or 0)} s "
      f"(build {int(value('build_s') or 0)} s)."
      + (f" Partial run (`BENCH_ONLY={' '.join(only)}`): the other scenarios' figures are kept from the run of {kept_from}."
         if kept_from else ""), "",
      "| ratio | value | target | met |", "|---|---:|---|---|"]
for r in ratios:
    met = {True: "yes", False: "**no**", None: "n/a"}[r["met"]]
    md.append(f"| {r['name']} | {'—' if r['ratio'] is None else r['ratio']} | {r['target'] or '—'} | {met} |")
md += ["", "| figure | req/s | p50 ms | p99 ms | wrk CPU % |", "|---|---:|---:|---:|---:|"]
for k, v in rows.items():
    if "rps" in v:
        md.append(f"| {k} | {v['rps']:.0f} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | {v['wrk_cpu_pct']} |")
lat = [(k, v) for k, v in rows.items() if "p50_ms" in v and "rps" not in v]
if lat:
    md += ["", "| latency | p50 ms | p99 ms |", "|---|---:|---:|"]
    for k, v in lat:
        md.append(f"| {k} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} |")
md += ["", "| other | value |", "|---|---:|"]
for k, v in rows.items():
    if "value" in v:
        x = v["value"]
        md.append(f"| {k} | {x:.0f} |" if abs(x) >= 100 or x == int(x) else f"| {k} | {x:.2f} |")
table = "\n".join(md)
text = open(out_md).read() if os.path.exists(out_md) else "# Benchmarks\n\n<!-- BEGIN FIGURES -->\n<!-- END FIGURES -->\n"
text = re.sub(r"<!-- BEGIN FIGURES -->.*<!-- END FIGURES -->",
              lambda _: "<!-- BEGIN FIGURES -->\n" + table + "\n<!-- END FIGURES -->", text, flags=re.S)
with open(out_md, "w") as f:
    f.write(text)
print(table)
