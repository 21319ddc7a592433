#!/usr/bin/env python3
"""Cross-check smtpscope's TCP reassembly against tshark's "Follow TCP Stream".

For every capture (*.pcap, *.pcapng) under the public corpus (read in place),
run
    smtpscope --flows -r FILE --ports PORTS --dump-streams TMP
and, in one tshark run per file,
    tshark -r FILE -q -z follow,tcp,raw,N [-z follow,tcp,raw,M ...]
then compare, for every TCP flow with a side on one of PORTS, both directions
byte for byte.

The --dump-streams contract: TMP/f<ID>.c2s and TMP/f<ID>.s2c hold each
direction's reassembled payload (a gap is that many NUL bytes); TMP/index.tsv
has a header line and one row per flow:
    id client_ip client_port server_ip server_port bytes_c2s bytes_s2c gaps_c2s gaps_s2c end

tshark's side: stream indexes are mapped to address pairs with
    tshark -r FILE -T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport
           -e ip.dst -e ipv6.dst -e tcp.dstport -Y "tcp && !icmp && !icmpv6"
(ICMP errors quote TCP headers and would otherwise lend a stream their
addresses).  Flows and streams with the same address pair are paired in order
of appearance (port reuse gives several of each).  In follow's raw output a
line indented by a tab is node 1's; node 0/1 are named on "Node" lines.

Gaps: tshark writes "[N bytes missing in capture file]" + NUL in place of
missing bytes only when the receiver's ACK shows they were sent; otherwise it
drops everything after the hole.  The marker is turned back into N NULs.  In
a direction where smtpscope reports gaps, a difference that starts at one of
our NUL bytes, or where tshark's copy simply ends, is reported as
"gap (compared prefix ...)" and counts as a pass.

Output: one line per flow, "ok FILE fID", "ok FILE fID gap (compared prefix
...)", "skip FILE fID: reason" or "FAIL FILE fID: first difference at byte X
(c2s)", then "N passed, N failed, N skipped".  Exit 1 on any failure.

    python3 tests/tshark_reassembly.py [--smtpscope BIN] [--root DIR] [-j N]
                                       [--keep DIR] [-v] [FILE ...]
"""

import argparse
import concurrent.futures
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile

PORTS = "25,587,2025,2525,1224,8240,465"

# Files (relative to the corpus root) or (file, flow id) pairs where tshark,
# not smtpscope, is wrong; each with the evidence.  Reported as "skip".
# Examined one by one; keep the reason precise enough to re-check.
EXCEPTIONS = {
    # ("path/in/corpus.pcap", None): "reason (whole file)",
    # ("path/in/corpus.pcap", 3): "reason (one flow)",

    # The file is a test fixture, not a real capture. Frames 1-5 (2009-10-05)
    # are 10.10.1.4:1470 <-> 74.53.140.153:25. Frame 6 is IPv6 (2014). Frames
    # 7-8 are dated 2023-10-10: the same 4-tuple, with the sequence and ACK
    # numbers of frames 1-2 but other bytes ("451-Test Option Line 1",
    # "EHLO Test Option"). tshark has no idle timeout. It keeps a single
    # tcp.stream 0, marks frames 7-8 "Spurious Retransmission" and keeps the
    # first copy of the bytes. smtpscope closes flow 1 after 300 s idle
    # (end=timeout) and opens flow 3 mid-stream for frames 7-8. Flow 1 is
    # still compared, and it matches tshark. Flow 3 has no tshark stream of
    # its own. This is a difference in what counts as a flow, not a
    # reassembly error. Check with:
    #   tshark -r FILE -Y tcp.port==1470 -T fields -e frame.time -e tcp.stream -e tcp.seq_raw -e tcp.len
    ("pcapplusplus/Smtp.pcap", 3): "flow opened after smtpscope's idle timeout; tshark merges it "
                                   "into stream 0 as retransmissions (frames 7-8, 14 years later)",
}

MISSING = re.compile(rb"\[(\d+) bytes? missing in capture file\]\x00")
TIMEOUT = 300


def norm_ip(text):
    text = text.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def last(v):
    return v.split(",")[-1] if v else v


def tshark_streams(path, ports):
    """{stream index: ((ip, port), (ip, port))} for streams with a side on ports,
    in the order of their first packet."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
           "-Y", "tcp && !icmp && !icmpv6"]
    for f in ("tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"):
        cmd += ["-e", f]
    rc, out, err = run(cmd)
    streams = {}
    for line in out.decode("utf-8", "replace").splitlines():
        v = line.split("\t")
        if len(v) < 7 or not v[0]:
            continue
        st = int(last(v[0]))
        if st in streams:
            continue
        try:
            a = (norm_ip(last(v[1] or v[2])), int(last(v[3])))
            b = (norm_ip(last(v[4] or v[5])), int(last(v[6])))
        except ValueError:
            continue
        streams[st] = (a, b)
    return {k: v for k, v in streams.items() if v[0][1] in ports or v[1][1] in ports}, rc, err


def parse_follow(text):
    """tshark -z follow,tcp,raw output -> {stream: {"nodes": [(ip, port)]*2, "data": [bytes]*2}}"""
    res = {}
    cur = None
    node_re = re.compile(r"^Node ([01]): (.*):(\d+)$")
    for line in text.splitlines():
        if line.startswith("====="):
            cur = None
            continue
        if line.startswith("Filter: tcp.stream eq "):
            cur = {"nodes": [None, None], "data": [bytearray(), bytearray()]}
            res[int(line.split()[-1])] = cur
            continue
        if cur is None or line.startswith("Follow:"):
            continue
        m = node_re.match(line)
        if m:
            cur["nodes"][int(m.group(1))] = (norm_ip(m.group(2)), int(m.group(3)))
            continue
        idx = 1 if line.startswith("\t") else 0
        hx = line.strip()
        if hx:
            cur["data"][idx] += bytes.fromhex(hx)
    for st in res.values():
        st["data"] = [MISSING.sub(lambda m: b"\0" * int(m.group(1)), bytes(d)) for d in st["data"]]
    return res


def read_index(path):
    with open(path, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    if not lines:
        return []
    head = lines[0].split("\t")
    rows = []
    for ln in lines[1:]:
        r = dict(zip(head, ln.split("\t")))
        rows.append(r)
    return rows


def compare(ours, theirs, gaps):
    """(status, detail): status "ok" / "gap" / "fail"."""
    if ours == theirs:
        return "ok", ""
    n = min(len(ours), len(theirs))
    x = next((i for i in range(n) if ours[i] != theirs[i]), n)
    if gaps > 0:
        if x == len(theirs) or (x < len(ours) and ours[x] == 0):
            return "gap", "%d of %d bytes" % (x, len(ours))
    if x == n:
        return "fail", "first difference at byte %d (lengths: smtpscope %d, tshark %d)" % (x, len(ours), len(theirs))
    return "fail", "first difference at byte %d (smtpscope %s, tshark %s; lengths %d/%d)" % (
        x, hex(ours[x]), hex(theirs[x]), len(ours), len(theirs))


def check_file(path, rel, args, ports):
    """Returns a list of (status, line)."""
    out = []
    tmp = tempfile.mkdtemp(prefix="tsr-", dir=args.keep) if args.keep else tempfile.mkdtemp(prefix="tsr-")
    try:
        dump = os.path.join(tmp, "streams")
        rc, so, se = run([args.smtpscope, "--flows", "-r", path, "--ports", args.ports,
                          "--dump-streams", dump])
        idx = os.path.join(dump, "index.tsv")
        if not os.path.exists(idx):
            return [("fail", "FAIL %s -: smtpscope wrote no index.tsv (exit %d): %s"
                     % (rel, rc, se.decode("utf-8", "replace").strip()[:300]))]
        flows = [r for r in read_index(idx)
                 if int(r["client_port"]) in ports or int(r["server_port"]) in ports]
        streams, trc, terr = tshark_streams(path, ports)
        note = ""
        if rc != 0 or trc != 0:
            note = " [smtpscope exit %d, tshark exit %d: both compared as far as they read]" % (rc, trc)
        follow = {}
        if streams:
            cmd = ["tshark", "-n", "-r", path, "-q"]
            for st in sorted(streams):
                cmd += ["-z", "follow,tcp,raw,%d" % st]
            _, fo, _ = run(cmd)
            follow = parse_follow(fo.decode("ascii", "replace"))
        # pair flows and streams by address pair, in order of appearance
        by_pair = {}
        for st in sorted(streams):
            by_pair.setdefault(frozenset(streams[st]), []).append(st)
        for r in sorted(flows, key=lambda r: int(r["id"])):
            fid = int(r["id"])
            cli = (norm_ip(r["client_ip"]), int(r["client_port"]))
            srv = (norm_ip(r["server_ip"]), int(r["server_port"]))
            name = "%s f%d" % (rel, fid)
            cand = by_pair.get(frozenset((cli, srv)))
            exc = EXCEPTIONS.get((rel, fid)) or EXCEPTIONS.get((rel, None))
            if exc:
                if cand:
                    cand.pop(0)
                out.append(("skip", "skip %s: %s" % (name, exc)))
                continue
            try:
                ours = [open(os.path.join(dump, "f%d.%s" % (fid, d)), "rb").read() for d in ("c2s", "s2c")]
            except OSError as e:
                out.append(("fail", "FAIL %s: missing dump file: %s" % (name, e)))
                continue
            if not cand:
                if not ours[0] and not ours[1]:
                    out.append(("ok", "ok %s (no payload, no tshark stream)" % name))
                else:
                    out.append(("fail", "FAIL %s: no tshark stream for %s:%d-%s:%d" % (name, cli[0], cli[1], srv[0], srv[1])))
                continue
            st = cand.pop(0)
            fl = follow.get(st, {"nodes": [None, None], "data": [b"", b""]})
            # tshark's node 0 is the sender of the stream's first packet
            if fl["nodes"][0] == srv or (fl["nodes"][0] is None and streams[st][0] == srv):
                theirs = [fl["data"][1], fl["data"][0]]
            else:
                theirs = [fl["data"][0], fl["data"][1]]
            res = []
            status = "ok"
            for k, d in enumerate(("c2s", "s2c")):
                gaps = int(r.get("gaps_" + d, "0") or 0)
                s, detail = compare(ours[k], theirs[k], gaps)
                if s == "fail":
                    status = "fail"
                    res.append("%s (%s)" % (detail, d))
                elif s == "gap":
                    if status == "ok":
                        status = "gap"
                    res.append("%s %s" % (d, detail))
            if status == "fail":
                out.append(("fail", "FAIL %s: %s [tshark stream %d]%s" % (name, "; ".join(res), st, note)))
            elif status == "gap":
                out.append(("ok", "ok %s gap (compared prefix: %s)%s" % (name, ", ".join(res), note)))
            else:
                out.append(("ok", "ok %s%s" % (name, note)))
        # tshark streams left over: flows smtpscope did not report
        for pair, sts in sorted(by_pair.items(), key=lambda kv: min(kv[1]) if kv[1] else -1):
            for st in sts:
                fl = follow.get(st)
                if fl and (fl["data"][0] or fl["data"][1]):
                    a, b = streams[st]
                    out.append(("fail", "FAIL %s -: tshark stream %d (%s:%d-%s:%d, %d/%d bytes) has no smtpscope flow"
                                % (rel, st, a[0], a[1], b[0], b[1], len(fl["data"][0]), len(fl["data"][1]))))
        return out
    except subprocess.TimeoutExpired as e:
        return [("fail", "FAIL %s -: timeout: %s" % (rel, " ".join(e.cmd)[:200]))]
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smtpscope", default=os.environ.get("SMTPSCOPE", os.path.join(repo, "smtpscope")))
    ap.add_argument("--root", default=os.environ.get("SMTPSCOPE_PUBLIC_CAPTURES",
                                                     os.path.join(repo, "..", "shared", "captures", "public")))
    ap.add_argument("--ports", default=PORTS)
    ap.add_argument("-j", "--jobs", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument("--keep", help="keep the dumps under this directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("files", nargs="*", help="captures (default: every *.pcap/*.pcapng under --root)")
    args = ap.parse_args()
    ports = set(int(p) for p in args.ports.split(","))

    if not shutil.which("tshark"):
        # the test set-up (scripts/deps.sh) installs tshark: its absence is a failure
        print("FAIL tshark not installed (make deps installs it)")
        print("0 passed, 1 failed")
        return 1
    if not (os.path.isfile(args.smtpscope) and os.access(args.smtpscope, os.X_OK)):
        print("FAIL smtpscope binary not found: %s" % args.smtpscope)
        print("0 passed, 1 failed")
        return 1
    if args.files:
        files = [(os.path.abspath(f), os.path.relpath(os.path.abspath(f), os.path.abspath(args.root))
                  if os.path.abspath(f).startswith(os.path.abspath(args.root) + os.sep) else f)
                 for f in args.files]
    else:
        if not os.path.isdir(args.root) and os.path.isdir("/work/shared/captures/public"):
            args.root = "/work/shared/captures/public"
        if not os.path.isdir(args.root):
            print("FAIL no capture corpus at %s" % args.root)
            print("0 passed, 1 failed")
            return 1
        files = []
        for d, _, names in os.walk(args.root):
            for n in names:
                if n.endswith((".pcap", ".pcapng")):
                    p = os.path.join(d, n)
                    files.append((p, os.path.relpath(p, args.root)))
        files.sort(key=lambda x: x[1])
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)

    counts = {"ok": 0, "fail": 0, "skip": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(check_file, p, rel, args, ports) for p, rel in files]
        for fut in futs:
            for status, line in fut.result():
                counts[status] += 1
                print(line, flush=True)
    print("%d passed, %d failed, %d skipped" % (counts["ok"], counts["fail"], counts["skip"]))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
