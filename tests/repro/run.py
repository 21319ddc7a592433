#!/usr/bin/env python3
"""Regression tests built from the reviews' reproducers (../shared/repro/ and
../shared/repro/more/). Each case is a file tests/repro/<case>.py with:

    SCRIPT = "more/b01_....py"   # the generator, relative to the repro folder
                                 # (or an absolute path: a generator of the
                                 # project's own, named tests/repro/_*.py)
    ARGS   = []                  # extra arguments to the generator (optional;
                                 # "{out}" stands for the case's output folder)
    PCAP   = None                # pcap name if not SCRIPT's stem (optional)
    OPTS   = []                  # extra smtpscope options (optional)
    ENV    = {}                  # extra environment for smtpscope (optional)
    def check(recs, run):        # recs: the JSON records of `--json --events`;
        ...                      # run(pcap, *opts) runs smtpscope again and
                                 # returns (records, exit code, stderr);
                                 # returns a list of failure strings ([] = pass)

Every case runs on each binary given with --bin (the normal build and the
ASan+UBSan build); any sanitizer report or an exit status other than 0/2 is
a failure whatever check() says. Prints "N passed, N failed"."""
import argparse
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def find_repro():
    for d in (os.path.join(ROOT, "..", "shared", "repro"), "/work/shared/repro"):
        if os.path.isdir(d):
            return os.path.abspath(d)
    return None


SAN = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer",
       "*** buffer overflow", "stack smashing")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    repro = find_repro()
    if not repro:
        print("FAIL repro folder not found (../shared/repro)")
        print("0 passed, 1 failed")
        return 1
    names = a.cases or sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "*.py"))
                              if not os.path.basename(p).startswith(("run", "_")))
    passed = failed = 0
    env = dict(os.environ, SMTPSCOPE_REPO=ROOT,
               ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            script = os.path.join(repro, mod.SCRIPT)
            out = os.path.join(tmp, name)
            os.makedirs(out, exist_ok=True)
            args = [x.replace("{out}", out) for x in getattr(mod, "ARGS", [])]
            g = subprocess.run([sys.executable, script] + args,
                               cwd=ROOT, env=dict(env, REPRO_OUT=out),
                               capture_output=True, text=True, timeout=600)
            if g.returncode != 0:
                print("FAIL %s: generator exit %d: %s" % (name, g.returncode, g.stderr.strip()[-300:]))
                failed += 1
                continue
            pcap = getattr(mod, "PCAP", None) or os.path.basename(script)[:-3] + ".pcap"
            pcap = os.path.join(out, pcap)
            case_env = dict(env, **getattr(mod, "ENV", {}))
            for b in a.bin:
                def run(p, *opts, _b=b):
                    p = p if os.path.isabs(p) else os.path.join(out, p)
                    r = subprocess.run([_b, "-q", "--json", "--events"] + list(opts) + ["-r", p],
                                       cwd=ROOT, env=case_env, capture_output=True, timeout=600)
                    recs = []
                    for line in r.stdout.decode("utf-8", "surrogateescape").splitlines():
                        try:
                            recs.append(json.loads(line))
                        except ValueError:
                            recs.append({"type": "unparsable", "line": line})
                    return recs, r.returncode, r.stderr.decode("utf-8", "replace")
                recs, rc, err = run(pcap, *getattr(mod, "OPTS", []))
                errs = []
                if any(s in err for s in SAN):
                    errs.append("sanitizer report: " + " | ".join(
                        l for l in err.splitlines() if any(s in l for s in SAN + ("SUMMARY",)))[:400])
                if rc not in (0, 2):
                    errs.append("exit status %d" % rc)
                try:
                    errs += mod.check(recs, run) or []
                except Exception as e:  # a check that crashes is a failure, not a pass
                    errs.append("check raised %r" % (e,))
                tag = "%s [%s]" % (name, os.path.basename(b))
                if errs:
                    failed += 1
                    print("FAIL " + tag)
                    for e in errs:
                        print("    " + e)
                else:
                    passed += 1
                    print("ok   " + tag)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
