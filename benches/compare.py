#!/usr/bin/env python3
"""sheetbridge export/import against the bare pipelines and DuckDB, in one run.

The method is the peer benchmark's (../shared/bench/run.py): every command is a whole
process under `/usr/bin/time -v` (wall clock and peak RSS of the tool's process tree; the
Postgres server is not counted), tools run round-robin (A B C A B C ...) so drift hits
everyone alike, uncounted warm-up rounds first, the MEDIAN of the counted runs is reported
with min-max, and every output is checked. Ratios are only taken between tools measured in
the same run.

    cargo build --release -p sheetbridge -p sheetbridge-bench
    ../shared/bench/setup.sh                       # venvs, cluster on port 55440, data
    /tmp/bench-venv/bin/python benches/compare.py --sizes 100k,1m --runs 3

Needs the peer benchmark's setup (cluster, bench.orders*, /tmp/bench-venv with polars,
/tmp/bench-venv-duck with DuckDB); its directory is --peers (default ../shared/bench next to
the repository). Nothing in the repository builds against it.

Writes /tmp/bench-work/results/compare-<stamp>/results.{json,md}.
"""
import argparse
import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("BENCH_WORK", "/tmp/bench-work")
PY = os.environ.get("BENCH_PY", "/tmp/bench-venv/bin/python")
DPY = os.environ.get("BENCH_DUCK_PY", "/tmp/bench-venv-duck/bin/python")

SIZES = {"100k": ("bench.orders_100k", 100_000), "1m": ("bench.orders", 1_000_000)}

# The targets.
MAX_RATIO_TO_BARE = 1.25
MAX_EXPORT_RSS_MB = 100


def tools(a):
    """name -> (op, command template). Placeholders: {url} {table} {out} {xlsx} {dest}."""
    sb, bare, peers = shlex.quote(a.sheetbridge), shlex.quote(a.bare), os.path.join(a.peers, "peers")
    like = {}
    if a.bare_zip_level:
        like[f"bare-z{a.bare_zip_level}"] = (
            "export", f"{bare} export --zip-level {a.bare_zip_level} {{url}} {{table}} {{out}}")
    return {
        "bare": ("export", f"{bare} export {{url}} {{table}} {{out}}"),
        **like,
        "sheetbridge": ("export", f"{sb} export --db {{url}} --table {{table}} --to {{out}} --sheet orders"),
        "duckdb": ("export", f"{DPY} {peers}/export_duckdb.py {{table}} {{out}}"),
        "bare-in": ("import", f"{bare} import {{url}} {{xlsx}} {{dest}}"),
        "sheetbridge-in": ("import", f"{sb} import --db {{url}} --from {{xlsx}} --table {{dest}} --mode insert"),
        "duckdb-in": ("import", f"{DPY} {peers}/import_duckdb.py {{xlsx}} {{dest}} {{table}}"),
    }


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, text=True, capture_output=True, **kw)


def timed(cmd, timeout):
    """Run cmd under /usr/bin/time -v; return dict(wall, rss_kb, rc, tail)."""
    tfile = f"{WORK}/time-compare.txt"
    t0 = time.monotonic()
    try:
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tfile, "sh", "-c", cmd],
                           text=True, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"wall": None, "rss_kb": None, "rc": "timeout", "tail": ""}
    wall_outer = time.monotonic() - t0
    txt = open(tfile).read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", txt)
    wall = (int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))) if m else wall_outer
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", txt).group(1))
    return {"wall": wall, "rss_kb": rss, "rc": p.returncode, "tail": (p.stdout + p.stderr)[-600:].strip()}


def psql(url, sql):
    p = sh(f"psql {shlex.quote(url)} -X -v ON_ERROR_STOP=1 -tAc {shlex.quote(sql)}")
    return p.stdout.strip() if p.returncode == 0 else f"ERR {p.stderr.strip()[:200]}"


# Export check, run with the bench venv's polars (calamine underneath): row count, header,
# sum(amount) and count(notes) against the table, and typed cells (numbers, dates, booleans).
VERIFY_XLSX = r"""
import sys, polars as pl
path, want_rows, want_sum, want_notes = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
df = pl.read_excel(path, engine="calamine")
issues = []
if df.height != want_rows: issues.append(f"rows {df.height}")
if list(df.columns)[:9] != ["id","customer","email","amount","quantity","ordered_at","ship_date","paid","notes"]:
    issues.append(f"header {df.columns[:9]}")
else:
    for c in ("id", "amount", "quantity"):
        if not df[c].dtype.is_numeric(): issues.append(f"{c} is {df[c].dtype}, not a number cell")
    s = float(df["amount"].cast(pl.Float64).sum())
    if abs(s - want_sum) > 0.5: issues.append(f"sum(amount) {s:.2f}")
    if df["notes"].null_count() != want_rows - want_notes: issues.append(f"notes nulls {df['notes'].null_count()}")
    for c in ("ordered_at", "ship_date"):
        if not df[c].dtype.is_temporal(): issues.append(f"{c} is {df[c].dtype}, not a date cell")
    if df["paid"].dtype != pl.Boolean: issues.append(f"paid is {df['paid'].dtype}")
print("ok" if not issues else "; ".join(issues))
"""


def verify_export(url, table, out):
    if not os.path.exists(out):
        return "no output"
    agg = psql(url, f"SELECT count(*), sum(amount), count(notes) FROM {table}").split("|")
    p = subprocess.run([PY, "-c", VERIFY_XLSX, out, *agg], text=True, capture_output=True)
    return p.stdout.strip() or p.stderr.strip()[-200:]


def verify_import(url, table, dest):
    n = psql(url, f"SELECT count(*) FROM {dest}")
    miss = psql(url, f"SELECT count(*) FROM (SELECT * FROM {table} EXCEPT SELECT * FROM {dest}) d")
    extra = psql(url, f"SELECT count(*) FROM (SELECT * FROM {dest} EXCEPT SELECT * FROM {table}) d")
    return "exact" if miss == "0" and extra == "0" else f"rows={n} missing={miss} extra={extra}"


def ensure_input(peers, table, size):
    """The one xlsx every importer reads, as the peer benchmark makes it: written once
    (untimed) by pandas + XlsxWriter, with a shared string table as Excel writes."""
    path = f"{WORK}/in/orders_{size}.xlsx"
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{WORK}/in/.partial_{size}.xlsx"
        p = sh(f"{PY} {peers}/peers/export_pandas_xlsxwriter.py {table} {tmp}")
        if p.returncode != 0:
            sys.exit(f"cannot write import input: {p.stderr}")
        os.replace(tmp, path)
    return path


def dest_of(name):
    return f"bench.imp_{re.sub(r'[^a-z0-9]', '_', name)}"


def versions(a, url):
    v = {"python": platform.python_version(), "machine": platform.machine(),
         "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?"),
         "cores": os.cpu_count(),
         "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
         "rustc": sh("rustc --version").stdout.strip(),
         "sheetbridge": (sh(f"{shlex.quote(a.sheetbridge)} --version").stdout.strip() or "?"),
         "sheetbridge_binary": f"{a.sheetbridge} sha256:{file_digest(a.sheetbridge)}",
         "repo_commit": sh(f"git -C {shlex.quote(ROOT)} rev-parse --short HEAD").stdout.strip(),
         "duckdb": sh(f"{DPY} -c 'import duckdb; print(duckdb.__version__)'").stdout.strip(),
         "postgres": psql(url, "SHOW server_version")}
    return v


def file_digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        return "missing"


def mb(kb):
    return kb / 1024 if kb is not None else None


def summarize(size, nrows, name, op, samples):
    ok = [s for s in samples if s["rc"] == 0 and s["wall"] is not None]
    row = {"size": size, "rows": nrows, "tool": name, "op": op, "n_ok": len(ok), "n": len(samples),
           "walls": [s["wall"] for s in samples], "rss_kb": [s["rss_kb"] for s in samples]}
    if ok:
        walls = [s["wall"] for s in ok]
        row.update(wall_med=statistics.median(walls), wall_min=min(walls), wall_max=max(walls),
                   rss_med_kb=statistics.median(s["rss_kb"] for s in ok),
                   rss_max_kb=max(s["rss_kb"] for s in ok))
    return row


def ratio(rows, size, tool, base):
    by = {(r["size"], r["tool"]): r for r in rows}
    t, b = by.get((size, tool)), by.get((size, base))
    if t and b and "wall_med" in t and "wall_med" in b:
        return t["wall_med"] / b["wall_med"]
    return None


def targets(rows):
    """The issue's targets, judged on this run's numbers."""
    by = {(r["size"], r["tool"]): r for r in rows}
    out = []
    for size in dict.fromkeys(r["size"] for r in rows):
        like = [r["tool"] for r in rows if r["size"] == size and r["tool"].startswith("bare-z")]
        for op, sb, bares, duck in (("export", "sheetbridge", ["bare", *like], "duckdb"),
                                    ("import", "sheetbridge-in", ["bare-in"], "duckdb-in")):
            if (size, sb) not in by:
                continue
            ok_verify = by[(size, sb)].get("verify") in ("ok", "exact")
            for bare in bares:
                r = ratio(rows, size, sb, bare)
                if r is not None:
                    out.append((f"{size} {op}: ≤ {MAX_RATIO_TO_BARE}× {bare}", f"{r:.2f}×",
                                r <= MAX_RATIO_TO_BARE and ok_verify))
            d = ratio(rows, size, sb, duck)
            if d is not None:
                out.append((f"{size} {op}: faster than DuckDB", f"{d:.2f}× DuckDB", d < 1 and ok_verify))
        e = by.get((size, "sheetbridge"))
        if e and "rss_max_kb" in e:
            out.append((f"{size} export: peak RSS < {MAX_EXPORT_RSS_MB} MB",
                        f"{mb(e['rss_max_kb']):.0f} MB", mb(e["rss_max_kb"]) < MAX_EXPORT_RSS_MB))
    # Flat / bounded memory: compare sizes when more than one ran (10× the rows).
    sizes = [s for s in SIZES if any(r["size"] == s for r in rows)]
    if len(sizes) >= 2:
        lo, hi = sizes[0], sizes[-1]
        e_lo, e_hi = by.get((lo, "sheetbridge")), by.get((hi, "sheetbridge"))
        if e_lo and e_hi and "rss_med_kb" in e_lo and "rss_med_kb" in e_hi:
            grow = mb(e_hi["rss_med_kb"]) - mb(e_lo["rss_med_kb"])
            out.append((f"export RSS flat ({lo} → {hi} rows)", f"{mb(e_lo['rss_med_kb']):.0f} → "
                        f"{mb(e_hi['rss_med_kb']):.0f} MB", grow < 20))
        i_lo, i_hi = by.get((lo, "sheetbridge-in")), by.get((hi, "sheetbridge-in"))
        b_hi = by.get((hi, "bare-in"))
        if i_lo and i_hi and b_hi and all("rss_med_kb" in x for x in (i_lo, i_hi, b_hi)):
            # The streaming reader must hold the shared string table; "bounded" = no more than
            # that plus buffers, i.e. within 1.5× of the bare streaming import at the large size.
            out.append((f"import RSS bounded (≤ 1.5× bare at {hi})",
                        f"{mb(i_lo['rss_med_kb']):.0f} → {mb(i_hi['rss_med_kb']):.0f} MB "
                        f"(bare {mb(b_hi['rss_med_kb']):.0f} MB)",
                        i_hi["rss_med_kb"] <= 1.5 * b_hi["rss_med_kb"]))
    return out


def markdown(rows, checks):
    lines = ["| rows | op | tool | wall s median (min-max) | peak RSS MB | file MB | × bare | × DuckDB | check |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = "bare" if r["op"] == "export" else "bare-in"
        duck = "duckdb" if r["op"] == "export" else "duckdb-in"
        if "wall_med" in r:
            wall = f"{r['wall_med']:.2f} ({r['wall_min']:.2f}-{r['wall_max']:.2f})"
            rss = f"{mb(r['rss_med_kb']):.0f}"
        else:
            wall, rss = f"failed {r['n'] - r['n_ok']}/{r['n']}", "-"
        rb, rd = ratio(rows, r["size"], r["tool"], base), ratio(rows, r["size"], r["tool"], duck)
        fmb = f"{r['file_bytes'] / 1e6:.1f}" if r.get("file_bytes") else "-"
        lines.append(f"| {r['rows']:,} | {r['op']} | {r['tool']} | {wall} | {rss} | {fmb} "
                     f"| {f'{rb:.2f}' if rb is not None else '-'} | {f'{rd:.2f}' if rd is not None else '-'} "
                     f"| {r.get('verify', '-')} |")
    if checks:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in checks]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100k,1m")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", default="100k=1,1m=0", help="uncounted rounds per size")
    ap.add_argument("--only", default="", help="comma list of tools (bare,sheetbridge,duckdb,bare-in,...)")
    ap.add_argument("--sheetbridge", default=os.path.join(ROOT, "target/release/sheetbridge"))
    ap.add_argument("--bare", default=os.path.join(ROOT, "target/release/bare"))
    ap.add_argument("--bare-zip-level", type=int, default=4,
                    help="also run the bare export at this deflate level, sheetbridge's default "
                         "(like for like: the plain `bare` uses rust_xlsxwriter's 6); 0: don't")
    ap.add_argument("--peers", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "bench")),
                    help="the peer benchmark's directory (pg.sh, peers/)")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per single run")
    a = ap.parse_args()
    a.sheetbridge, a.bare, a.peers = map(os.path.abspath, (a.sheetbridge, a.bare, a.peers))

    tl = tools(a)
    if a.only:
        keep = set(a.only.split(","))
        tl = {k: v for k, v in tl.items() if k in keep}
    for path, needed in ((a.bare, ("bare", "bare-in")), (a.sheetbridge, ("sheetbridge", "sheetbridge-in"))):
        if any(k in tl for k in needed) and not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing: cargo build --release -p sheetbridge -p sheetbridge-bench")
    warm = dict(kv.split("=") for kv in a.warmup.split(","))

    # One comparison at a time on a machine: two would share the cores, the tables and the outputs.
    os.makedirs(WORK, exist_ok=True)
    lock = open(f"{WORK}/compare.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"another comparison is running (lock {WORK}/compare.lock); waiting for it", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)

    url = os.environ.get("BENCH_URL") or sh(f"{a.peers}/pg.sh url").stdout.strip()
    if psql(url, "SELECT 1") != "1":
        sys.exit(f"no database at {url}: run {a.peers}/setup.sh")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    rdir = f"{WORK}/results/compare-{stamp}"
    os.makedirs(rdir, exist_ok=True)
    results = {"started_utc": stamp, "env": versions(a, url), "runs": a.runs,
               "commands": {k: v[1] for k, v in tl.items()}, "rows": []}
    print(json.dumps(results["env"], indent=1), flush=True)

    for size in a.sizes.split(","):
        table, nrows = SIZES[size]
        xlsx = ensure_input(a.peers, table, size)
        odir = f"{WORK}/out/compare-{size}"
        os.makedirs(odir, exist_ok=True)
        psql(url, f"SELECT count(*) FROM {table}")  # warm the buffer cache for everyone
        samples = {k: [] for k in tl}
        nwarm = int(warm.get(size, 0))
        for i in range(nwarm + a.runs):
            for name, (op, tmpl) in tl.items():
                out, dest = f"{odir}/{name}.xlsx", dest_of(name)
                if op == "export" and os.path.exists(out):
                    os.remove(out)
                if op == "import":  # untimed: a fresh, empty table shaped like the source
                    psql(url, f"DROP TABLE IF EXISTS {dest}; CREATE TABLE {dest} (LIKE {table} INCLUDING ALL)")
                cmd = tmpl.format(url=shlex.quote(url), table=table, out=out, xlsx=xlsx, dest=dest)
                r = timed(cmd, a.timeout)
                tag = "warmup" if i < nwarm else f"run {i - nwarm + 1}"
                print(f"[{size}] {name:15s} {tag:7s} wall={r['wall']} "
                      f"rss={mb(r['rss_kb']) or 0:.0f}MB rc={r['rc']}", flush=True)
                if r["rc"] != 0:
                    print("   ", r["tail"].replace("\n", "\n    "), flush=True)
                if i >= nwarm:
                    samples[name].append(r)
            # Check the first round's outputs at once, so a broken tool shows before the long
            # runs; the last round's are checked below.
            if i == 0:
                for name, (op, _) in tl.items():
                    if samples[name] and samples[name][-1]["rc"] != 0:
                        continue
                    v = (verify_export(url, table, f"{odir}/{name}.xlsx") if op == "export"
                         else verify_import(url, table, dest_of(name)))
                    if v not in ("ok", "exact"):
                        print(f"[{size}] {name}: check failed: {v}", flush=True)
        for name, (op, _) in tl.items():
            row = summarize(size, nrows, name, op, samples[name])
            if op == "export":
                out = f"{odir}/{name}.xlsx"
                row["file_bytes"] = os.path.getsize(out) if os.path.exists(out) else None
                row["verify"] = verify_export(url, table, out) if row["n_ok"] else "failed"
            else:
                row["verify"] = verify_import(url, table, dest_of(name)) if row["n_ok"] else "failed"
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        json.dump(results, open(f"{rdir}/results.json", "w"), indent=1)

    checks = targets(results["rows"])
    results["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in checks]
    json.dump(results, open(f"{rdir}/results.json", "w"), indent=1)
    md = markdown(results["rows"], checks)
    open(f"{rdir}/results.md", "w").write(md + "\n")
    print(md)
    print(f"\nresults: {rdir}")


if __name__ == "__main__":
    main()
