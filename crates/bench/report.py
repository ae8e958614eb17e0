"""Turns target/bench/results.tsv into docs/benchmarks.json and the figures table of
docs/benchmarks.md (between <!-- BEGIN FIGURES --> and <!-- END FIGURES -->)."""
import json, os, platform, re, subprocess, sys, time

res, out_json, out_md = sys.argv[1:4]
rows = {}
for line in open(res):
    parts = line.split()
    if not parts:
        continue
    vals = [float(x) for x in parts[1:]]
    if len(vals) == 4:
        rows[parts[0]] = {"rps": vals[0], "p50_ms": vals[1], "p99_ms": vals[2], "wrk_cpu_pct": vals[3]}
    else:
        rows[parts[0]] = {"value": vals[0]}

cpu = "unknown"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip()
        break
machine = {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

def rps(k):
    return rows.get(k, {}).get("rps")

sizes = sorted(int(k.split("_")[-1]) for k in rows if k.startswith("B_hit_"))
a = rps("A_ceiling")
ratios = []
def ratio(name, num, den, target, cmp=">="):
    if num is None or den is None or den == 0:
        ratios.append({"name": name, "ratio": None, "target": target, "met": None})
        return
    r = num / den
    met = r >= target if cmp == ">=" else r <= target
    ratios.append({"name": name, "ratio": round(r, 3), "target": f"{cmp} {target}", "met": met})

for n in sizes:
    ratio(f"verify hit ({n} keys) / A ceiling", rps(f"B_hit_{n}"), a, 0.85)
if len(sizes) > 1:
    ratio(f"verify hit {sizes[-1]} keys / {sizes[0]} keys", rps(f"B_hit_{sizes[-1]}"), rps(f"B_hit_{sizes[0]}"), 0.9)
for k in rows:
    if k.startswith("C_nginx_"):
        n = k.split("_")[-1]
        ratio(f"verify hit / nginx map ({n} keys)", rps(f"B_hit_{n}"), rps(k), 0.6)
ratio("usage events (1 per request) / A ceiling", rps("D_usage_events"), a, 0.8)
cold = rows.get("H_cold_start_ms", {}).get("value")
rss = rows.get("H_idle_rss_kb", {}).get("value")
if cold is not None:
    ratios.append({"name": "cold start to ready (ms)", "ratio": cold, "target": "<= 300", "met": cold <= 300})
if rss is not None:
    mb = round(rss / 1024, 1)
    ratios.append({"name": "idle RSS (MB)", "ratio": mb, "target": "<= 30", "met": mb <= 30})

doc = {"machine": machine, "ratios": ratios, "figures": rows,
       "settings": {k: os.environ.get(k) for k in ("BENCH_SIZES", "BENCH_RUNS", "BENCH_DURATION", "BENCH_CONNECTIONS")}}
json.dump(doc, open(out_json, "w"), indent=2)
open(out_json, "a").write("\n")

md = [f"Measured {machine['date']} on {machine['nproc']} × {machine['cpu']} (kernel {machine['kernel']}); "
      f"total run {int(rows.get('total_s', {}).get('value', 0))} s.", "",
      "| ratio | value | target | met |", "|---|---:|---|---|"]
for r in ratios:
    met = {True: "yes", False: "**no**", None: "n/a"}[r["met"]]
    md.append(f"| {r['name']} | {r['ratio']} | {r['target']} | {met} |")
md += ["", "| figure | req/s | p50 ms | p99 ms | wrk CPU % |", "|---|---:|---:|---:|---:|"]
for k, v in rows.items():
    if "rps" in v:
        md.append(f"| {k} | {v['rps']:.0f} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | {v['wrk_cpu_pct']} |")
md += ["", "| other | value |", "|---|---:|"]
for k, v in rows.items():
    if "value" in v:
        md.append(f"| {k} | {v['value']:.0f} |")
table = "\n".join(md)
text = open(out_md).read() if os.path.exists(out_md) else "# Benchmarks\n\n<!-- BEGIN FIGURES -->\n<!-- END FIGURES -->\n"
text = re.sub(r"<!-- BEGIN FIGURES -->.*<!-- END FIGURES -->",
              lambda _: "<!-- BEGIN FIGURES -->\n" + table + "\n<!-- END FIGURES -->", text, flags=re.S)
open(out_md, "w").write(text)
print(table)
