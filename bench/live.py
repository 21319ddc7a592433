#!/usr/bin/env python3
"""live — replay a generated capture over a veth pair into `smtpscope -i`.

A network namespace of our own holds one end of a veth pair; tcpreplay sends
the capture from there, smtpscope captures on the other end (in the root
namespace). Nothing leaves the machine. Reports packets sent and received,
kernel and interface drops (smtpscope's own pcap_stats line at exit) and the
SMTP sessions recovered against the generator's ground truth.

  live.py --check             one replay at a moderate rate (a test of make test)
  live.py --ladder            top speed, then lower rates until no packet is
                              dropped; prints a table (used by make bench-live)

Needs root, iproute2 and tcpreplay (scripts/deps.sh installs tcpreplay).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


class Veth:
    """A namespace with one end of a veth pair; the other end stays here."""

    def __init__(self):
        tag = str(os.getpid() % 100000)
        self.ns, self.here, self.there = "ssl" + tag, "ssl" + tag + "a", "ssl" + tag + "b"

    def __enter__(self):
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.here, "type", "veth", "peer", "name", self.there)
        sh("ip", "link", "set", self.there, "netns", self.ns)
        # VLAN-tagged frames are 4 bytes over 1500: room for them
        sh("ip", "link", "set", self.here, "mtu", "9000", "up")
        sh("ip", "netns", "exec", self.ns, "ip", "link", "set", self.there, "mtu", "9000", "up")
        return self

    def __exit__(self, *exc):
        sh("ip", "link", "del", self.here, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


def session_count(path):
    n = 0
    with open(path) as f:
        for line in f:
            if '"type":"session"' in line:
                n += 1
    return n


def replay(v, smtpscope, pcap, truth, rate, tmp):
    out = os.path.join(tmp, "live.jsonl")
    if os.path.exists(out):
        os.unlink(out)
    os.chmod(tmp, 0o777)  # smtpscope gives up root (-Z nobody) before it writes
    p = subprocess.Popen([smtpscope, "-i", v.here, "--no-ui", "--json=" + out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    args = ["ip", "netns", "exec", v.ns, "tcpreplay", "-i", v.there, "--preload-pcap"]
    args += ["--topspeed"] if rate == "top" else ["--mbps=" + str(rate)]
    t0 = time.time()
    r = sh(*args, pcap, check=False)
    secs = time.time() - t0
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=60)[1]
    sent = re.search(r"Successful packets:\s+(\d+)", r.stdout)
    mbps = re.search(r"Rated: [\d.]+ Bps, ([\d.]+) Mbps", r.stdout)
    st = re.search(r"(\d+) packets received, (\d+) dropped by the kernel, (\d+) dropped by the interface", err)
    chk = sh(sys.executable, os.path.join(HERE, "check_truth.py"), truth, out, check=False)
    truth_sessions = sum(1 for line in open(truth) if '"type":"session"' in line and '"kind":"smtp"' in line)
    return {
        "rate": rate,
        "mbps": float(mbps.group(1)) if mbps else 0.0,
        "seconds": secs,
        "sent": int(sent.group(1)) if sent else 0,
        "received": int(st.group(1)) if st else 0,
        "kernel_drops": int(st.group(2)) if st else -1,
        "if_drops": int(st.group(3)) if st else -1,
        "sessions": session_count(out) if os.path.exists(out) else 0,
        "truth_sessions": truth_sessions,
        "truth_ok": chk.returncode == 0,
        "truth_tail": chk.stdout.strip().splitlines()[-1] if chk.stdout.strip() else chk.stderr.strip(),
        "smtpscope_exit": p.returncode,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--ladder", action="store_true")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--smtpscope", default=os.path.join(ROOT, "smtpscope"))
    ap.add_argument("--size", default="16M")
    a = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("tcpreplay"):
        print("FAIL live replay needs root and tcpreplay (scripts/deps.sh installs it)")
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="smtpscope-live-")
    try:
        pcap = os.path.join(tmp, "live.pcap")
        truth = pcap + ".truth.jsonl"
        # no capture loss in the file: every drop seen is the live path's own
        sh(os.path.join(a.bin, "gen"), "-o", pcap, "-S", a.size, "-s", "7", "--loss-sessions", "0")
        results = []
        with Veth() as v:
            if a.check:
                results.append(replay(v, a.smtpscope, pcap, truth, 100, tmp))
            else:
                for rate in ["top", 4000, 2000, 1000, 500, 250]:
                    r = replay(v, a.smtpscope, pcap, truth, rate, tmp)
                    results.append(r)
                    if r["kernel_drops"] == 0 and r["if_drops"] == 0 and r["received"] >= r["sent"]:
                        break
        print("| rate asked | Mbit/s sent | packets sent | received | kernel drops | if drops | SMTP sessions found / in truth | ground-truth check |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for r in results:
            print("| %s | %.0f | %d | %d | %d | %d | %d / %d | %s |" % (
                "top speed" if r["rate"] == "top" else "%s Mbit/s" % r["rate"], r["mbps"], r["sent"],
                r["received"], r["kernel_drops"], r["if_drops"], r["sessions"], r["truth_sessions"],
                r["truth_tail"]))
        if a.check:
            r = results[0]
            ok = 0
            fails = []
            for name, cond in [
                ("tcpreplay sent the capture", r["sent"] > 0),
                ("smtpscope exited cleanly on SIGINT", r["smtpscope_exit"] == 0),
                ("drop counters reported", r["kernel_drops"] >= 0),
                ("every packet received", r["received"] >= r["sent"]),
                ("sessions recovered match the ground truth", r["truth_ok"] or r["kernel_drops"] > 0),
                ("sessions found", r["sessions"] > 0),
            ]:
                print(("ok   " if cond else "FAIL ") + name)
                if cond:
                    ok += 1
                else:
                    fails.append(name)
            print("%d passed, %d failed" % (ok, len(fails)))
            return 1 if fails else 0
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
