#!/usr/bin/env python3
"""bench — the `make bench` driver: generate captures, time smtpscope against
the bare libpcap loop, check its output against the ground truth, and write
the results into docs/benchmarks.md.

usage: bench.py [--bin DIR] [--smtpscope PATH] [--sizes 64M,256M,1G] [--reps 9]
                [--seed N] [--tshark-reps 2] [--out docs/benchmarks.md] [--no-doc]
                [--also NAME=PATH ...]

Steps (everything under one `mktemp -d`-style directory, removed at the end):
  1. bench/gen writes each capture and its truth file (fixed seed);
  2. the file is read once (`cat > /dev/null`) so it sits in the page cache;
  3. smtpscope --json runs once into a file, bench/check_truth.py compares it
     with the truth (a failure makes the whole run exit 1, after the report);
  4. the timed runs: --reps rounds, each round running every variant once, the
     order rotated from round to round (floor, floor --fopen, smtpscope --json,
     smtpscope text, and json@NAME, text@NAME for each --also NAME=PATH:
     another smtpscope build timed in the same rounds, e.g. one made with
     HARDEN=0), all stdout to /dev/null, each under bench/rss (wall time,
     user+sys CPU, ru_maxrss); tshark only on the smallest file, --tshark-reps
     times, when installed;
  5. medians per variant; MB/s and packets/s from the median wall time; ratios
     to the floor (both wall and CPU), and peak RSS per file size.
The report replaces the text between the markers
  <!-- bench:begin --> and <!-- bench:end -->
in --out (the rest of the file is hand-written and kept); without the markers
the report is appended. Python 3 standard library only.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)", s.strip(), re.I)
    if not m:
        raise SystemExit(f"bench: bad size {s!r}")
    mul = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(m.group(1)) * mul


def human(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            v = n / div
            return f"{v:.0f} {unit}" if abs(v - round(v)) < 0.05 else f"{v:.2f} {unit}"
    return f"{n} B"


def run_rss(rss, cmd, report, stdout="/dev/null"):
    """Runs cmd under bench/rss; returns dict wall, cpu, user, sys, rss_kib, status."""
    subprocess.run([rss, "-o", report, "-O", stdout, "--"] + cmd, check=True)
    with open(report) as f:
        kv = dict(x.split("=", 1) for x in f.read().split())
    user, sys_ = float(kv["user_s"]), float(kv["sys_s"])
    return {"wall": float(kv["wall_s"]), "user": user, "sys": sys_, "cpu": user + sys_,
            "rss_kib": int(kv["maxrss_kib"]), "status": int(kv["status"])}


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def machine():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU MHz", "Hypervisor vendor", "L3 cache"):
                info[k.strip()] = v.strip()
    except OSError:
        pass
    info["nproc"] = str(os.cpu_count())
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memory"] = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    info["kernel"] = platform.release()
    try:
        info["cc"] = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def gen_summary(truth):
    import json
    with open(truth, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 4096))
        last = f.read().decode().strip().splitlines()[-1]
    return json.loads(last)


def main():
    ap = argparse.ArgumentParser(description="smtpscope benchmark driver")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench"), help="where gen, floor, rss are")
    ap.add_argument("--smtpscope", default=os.path.join(ROOT, "smtpscope"))
    ap.add_argument("--sizes", default="64M,256M,1G")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tshark-reps", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--no-doc", action="store_true", help="print the report, do not touch --out")
    ap.add_argument("--also", action="append", default=[], metavar="NAME=PATH",
                    help="another smtpscope binary timed in the same rounds (variants json@NAME, text@NAME)")
    a = ap.parse_args()
    also = []
    for x in a.also:
        name, eq, path = x.partition("=")
        if not eq or not name or not os.access(path, os.X_OK):
            raise SystemExit(f"bench: --also {x!r}: want NAME=PATH of an executable")
        also.append((name, os.path.abspath(path)))

    gen, floor, rss = (os.path.join(a.bin, x) for x in ("gen", "floor", "rss"))
    for p in (gen, floor, rss, a.smtpscope):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"bench: {p} missing: run `make bench` (it builds them)")
    sizes = [parse_size(s) for s in a.sizes.split(",")]
    tshark = shutil.which("tshark")
    t_start = time.monotonic()
    load_start = loadavg()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        version = subprocess.run([a.smtpscope, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        version = "?"
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = ""

    tmp = tempfile.mkdtemp(prefix="smtpscope-bench.")
    results = []      # per size: dict
    truth_ok = True
    try:
        for size in sizes:
            name = human(size).replace(" ", "")
            cap = os.path.join(tmp, f"bench-{name}.pcap")
            truth = cap + ".truth.jsonl"
            log(f"generating {name} ...")
            g = run_rss(rss, [gen, "-o", cap, "-S", str(size), "-s", str(a.seed)], os.path.join(tmp, "r"))
            if g["status"]:
                raise SystemExit("bench: gen failed")
            summ = gen_summary(truth)
            fbytes = os.path.getsize(cap)
            warm(cap)

            log(f"{name}: checking smtpscope --json against the ground truth ...")
            js = os.path.join(tmp, "out.jsonl")
            r = run_rss(rss, [a.smtpscope, "-q", "-r", cap, "--json"], os.path.join(tmp, "r"), stdout=js)
            chk = subprocess.run([sys.executable, os.path.join(HERE, "check_truth.py"), truth, js],
                                 capture_output=True, text=True)
            check_text = chk.stdout.strip()
            if chk.returncode or r["status"]:
                truth_ok = False
                log(f"{name}: ground-truth check FAILED (smtpscope status {r['status']})")
            os.unlink(js)

            variants = [
                ("floor", "libpcap loop: pcap_open_offline + pcap_next_ex", [floor, cap]),
                ("floor-fopen", "libpcap loop: fopen + 1 MiB setvbuf + pcap_fopen_offline", [floor, "--fopen", cap]),
                ("json", "smtpscope -r FILE --json", [a.smtpscope, "-q", "-r", cap, "--json"]),
                ("text", "smtpscope -r FILE (text transcript)", [a.smtpscope, "-q", "-r", cap]),
            ]
            for an, ap_ in also:
                variants.append((f"json@{an}", f"--also {an}: -r FILE --json", [ap_, "-q", "-r", cap, "--json"]))
                variants.append((f"text@{an}", f"--also {an}: -r FILE (text transcript)", [ap_, "-q", "-r", cap]))
            runs = {v[0]: [] for v in variants}
            warm(cap)
            log(f"{name}: timing {a.reps} rounds of {len(variants)} variants ...")
            for rep in range(a.reps):
                k = rep % len(variants)
                for key, _, cmd in variants[k:] + variants[:k]:
                    m = run_rss(rss, cmd, os.path.join(tmp, "r"))
                    if m["status"] not in (0,):
                        log(f"{name}: {key} exited with status {m['status']}")
                    runs[key].append(m)
            descs = {v[0]: (v[1], v[2]) for v in variants}
            if tshark and size == min(sizes) and a.tshark_reps > 0:
                cmd = [tshark, "-r", cap, "-Y", "smtp", "-T", "fields", "-e", "smtp.req.command"]
                log(f"{name}: tshark x{a.tshark_reps} ...")
                env_runs = []
                for _ in range(a.tshark_reps):
                    env_runs.append(run_rss(rss, cmd, os.path.join(tmp, "r")))
                runs["tshark"] = env_runs
                descs["tshark"] = ("tshark -r FILE -Y smtp -T fields -e smtp.req.command", cmd)
            results.append({"size": size, "name": name, "bytes": fbytes, "summary": summ, "gen": g,
                            "runs": runs, "descs": descs, "check": check_text, "check_ok": chk.returncode == 0})
            os.unlink(cap)
            os.unlink(truth)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.monotonic() - t_start
    report = render(a, results, machine(), started, load_start, loadavg(), elapsed, version, rev, truth_ok)
    if a.no_doc:
        print(report)
    else:
        write_doc(a.out, report)
        print(report)
        log(f"wrote {os.path.relpath(a.out, ROOT)}")
    log(f"done in {elapsed:.0f} s")
    if not truth_ok:
        log("the ground-truth check failed: see the report")
        return 1
    return 0


def med(runs, k):
    return statistics.median(r[k] for r in runs)


def render(a, results, mach, started, load_start, load_end, elapsed, version, rev, truth_ok):
    L = []
    L.append(f"Run of {started}, {version}" + (f" (git {rev})" if rev else "") +
             f"; `make bench` took {elapsed:.0f} s.")
    L.append("")
    L.append("**Machine**: " + "; ".join(f"{k} {v}" for k, v in mach.items()) + ".")
    L.append(f"Load average before the run {load_start}, after {load_end} "
             "(other work on the machine inflates wall times; CPU times suffer less).")
    L.append("")
    L.append(f"Medians of {a.reps} runs per variant, the variants alternating; captures generated with "
             f"`gen -S SIZE -s {a.seed}` and read once beforehand so they are in the page cache; "
             "every output to /dev/null. *CPU* is user + system time; *RSS* is the peak resident set "
             "(getrusage `ru_maxrss`, the largest of the runs). Ratios are to the plain libpcap loop "
             "`floor` of the same file in the same run. The last column, the fastest of the runs, shows how "
             "much the machine's other work moved the medians (the target is judged on the medians).")
    L.append("")
    L.append("| capture | variant | wall s | CPU s | MB/s | packets/s | peak RSS MiB | wall / floor | CPU / floor | fastest wall s |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        runs = r["runs"]
        fw, fc = med(runs["floor"], "wall"), med(runs["floor"], "cpu")
        pk = r["summary"]["packets"]
        extra = [k for k in runs if "@" in k]
        for key in ["floor", "floor-fopen", "json", "text"] + extra + ["tshark"]:
            if key not in runs:
                continue
            w, c = med(runs[key], "wall"), med(runs[key], "cpu")
            rssm = max(x["rss_kib"] for x in runs[key]) / 1024
            n = len(runs[key])
            label = key + (f" (×{n})" if n != a.reps else "")
            L.append(f"| {r['name']} | {label} | {w:.3f} | {c:.3f} | {r['bytes'] / w / 1e6:.0f} | "
                     f"{pk / w / 1e6:.2f} M | {rssm:.1f} | {w / fw:.2f} | {c / fc:.2f} | "
                     f"{min(x['wall'] for x in runs[key]):.3f} |")
    L.append("")
    # target
    L.append("**Target** (2× the floor's wall time, peak RSS < 32 MiB and flat):")
    L.append("")
    for r in results:
        runs = r["runs"]
        fw = med(runs["floor"], "wall")
        jw = med(runs["json"], "wall")
        rssm = max(x["rss_kib"] for x in runs["json"]) / 1024
        ok = jw <= 2 * fw and rssm < 32
        # the issue states the ratio on the 256 MiB capture (and the memory on 256 MiB and
        # 1 GiB); smaller captures are shown for information: fixed costs weigh more there
        judged = r["size"] >= (256 << 20)
        verdict = ("**met**" if ok else "**not met**") if judged else \
            "for information (the target is stated for 256 MiB and larger)"
        L.append(f"- {r['name']}: smtpscope --json {jw / fw:.2f}× the floor "
                 f"({jw / med(runs['floor-fopen'], 'wall'):.2f}× the fopen floor), peak RSS {rssm:.1f} MiB — "
                 + verdict)
    if len(results) > 1:
        rs = [max(x["rss_kib"] for x in r["runs"]["json"]) / 1024 for r in results]
        L.append(f"- peak RSS across sizes ({', '.join(r['name'] for r in results)}): "
                 + " → ".join(f"{x:.1f}" for x in rs) + " MiB" +
                 (" (flat)" if max(rs) - min(rs) < 0.25 * max(rs) else " (grows)"))
    L.append("")
    L.append("**Captures** (bench/gen defaults; generation time in the last column):")
    L.append("")
    L.append("| capture | bytes | packets | mean frame | sessions | SMTP | messages | spoofed | lossy | gen s |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        s = r["summary"]
        L.append(f"| {r['name']} | {r['bytes']} | {s['packets']} | {s['mean_frame']:.0f} | {s['sessions']} | "
                 f"{s['smtp_sessions']} | {s['messages']} | {s['spoofed']} | {s['lossy_sessions']} | "
                 f"{r['gen']['wall']:.1f} |")
    L.append("")
    L.append("**Ground truth** (`bench/check_truth.py` on `smtpscope --json`): " +
             ("all checks passed." if truth_ok else "**FAILED** — details below."))
    for r in results:
        L.append("")
        L.append(f"{r['name']}:")
        L.append("")
        L.append("```")
        L.extend(r["check"].splitlines())
        L.append("```")
    L.append("")
    L.append("**Commands** (FILE is the generated capture):")
    L.append("")
    L.append("```")
    def show(x):
        if x.endswith(".pcap"):
            return "FILE"
        if x.startswith(ROOT + os.sep):
            rel = os.path.relpath(x, ROOT)
            return rel if os.sep in rel else "./" + rel
        if os.path.isabs(x) and shutil.which(os.path.basename(x)) == x:
            return os.path.basename(x)
        return x
    for r in results:
        for key, (d, cmd) in r["descs"].items():
            if key == "tshark" or r is results[0]:
                L.append(f"{' '.join(show(x) for x in cmd):60s} # {key}: {d}")
    L.append("```")
    return "\n".join(L)


def write_doc(path, report):
    block = f"{BEGIN}\n{report}\n{END}"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        text = pre + block + post
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
