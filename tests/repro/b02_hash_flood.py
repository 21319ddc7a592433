"""b02: tuples that all collided under the old unkeyed flow hash
(mix64(seed ^ lo ^ rotl17(hi)), whatever the seed) must spread over the
table like random ones now that the bucket is SipHash-1-3 under a secret
key (src/flow.c key_hash). Deterministic measure first: with
SMTPSCOPE_FLOW_STATS=1 the table reports its longest chain and its
chain-bound evictions; the colliding capture's longest chain must be short
(at most 12; by chance above 12 is below 1e-9 at this size) with no
evictions. Then a generous time bound (colliding <= 3 x random + 1 s) as a
sanity check; the 100,000-flow timing is in docs/security.md."""
import os
import re
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b02_hash_flood_ipv4_flow_key.py"
ARGS = ["20000"]          # the generator finds 17,550 colliding tuples at most
PCAP = "b02_colliding.pcap"
ENV = {"SMTPSCOPE_FLOW_STATS": "1"}
STATS = re.compile(r"flow: flows (\d+), lookups (\d+), chain steps (\d+), longest chain (\d+), "
                   r"chain evictions (\d+), key (\S+)")


def stats(err):
    m = STATS.search(err)
    return tuple(int(x) for x in m.groups()[:5]) + (m.group(6),) if m else None


def check(recs, run):
    errs = []
    res = {}
    for name in ("b02_random.pcap", "b02_colliding.pcap"):
        t0 = time.monotonic()
        r, rc, err = run(name, "--summary")
        res[name] = (time.monotonic() - t0, stats(err), of(r, "summary"))
    (tr, sr, sumr), (tc, sc, sumc) = res["b02_random.pcap"], res["b02_colliding.pcap"]
    expect(errs, sr is not None and sc is not None, "no flow statistics on stderr (SMTPSCOPE_FLOW_STATS)")
    if sr and sc:
        expect(errs, sc[0] == sr[0] and sc[0] >= 17000, "flows: colliding %d, random %d" % (sc[0], sr[0]))
        expect(errs, sc[5] == "random", "hash key not from the kernel's entropy: %s" % sc[5])
        expect(errs, sc[3] <= 12, "longest chain %d in the colliding capture (random: %d)" % (sc[3], sr[3]))
        expect(errs, sc[4] == 0, "%d chain-bound evictions in the colliding capture" % sc[4])
        expect(errs, sc[2] <= 2 * sr[2] + 1000,
               "chain steps: colliding %d, random %d" % (sc[2], sr[2]))
    expect(errs, len(sumc) == 1 and sumc[0].get("tcp_flows", 0) >= 17000, "summary tcp_flows of the colliding capture")
    expect(errs, tc <= 3 * tr + 1.0, "colliding capture took %.2f s, random %.2f s" % (tc, tr))
    return errs
