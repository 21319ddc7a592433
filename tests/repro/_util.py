"""Small helpers for the repro checks."""


def of(recs, typ):
    return [r for r in recs if r.get("type") == typ]


def findings(recs):
    out = []
    for r in of(recs, "transaction") + of(recs, "session"):
        for f in r.get("findings") or []:
            out.append((f.get("id") or f.get("rule"), f.get("severity")))
    return out


def expect(errs, cond, msg):
    if not cond:
        errs.append(msg)
