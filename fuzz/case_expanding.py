#!/usr/bin/env python3
"""case_expanding — find every code point whose lowercase is longer in UTF-8
than the code point itself, and write the fuzzing dictionaries from them.

    python3 fuzz/case_expanding.py [--check]

verdict_domain_alabel (src/verdict.c) lowercases a non-ASCII domain with
libpsl's psl_str_to_utf8lower before it encodes the labels; a lowercase that
is longer than its input overflowed a fixed 256-byte label copy once (b01).
For every code point U+0080..U+10FFFF (surrogates skipped) this compares the
UTF-8 length of the code point with the UTF-8 length of

  psl    psl_str_to_utf8lower() of the installed libpsl, called through
         ctypes (the function verdict.c calls; with libidn2/libunistring it is
         u8_tolower with NFKC normalisation, so compatibility decompositions
         count too: U+FDFA is 3 bytes and becomes 33),
  lower  Python's str.lower() (full Unicode lowercase mapping), and
  fold   Python's str.casefold() (a second, stricter source),

and keeps every code point that one of them lengthens. It also lists the code
points whose libpsl lowercase contains '.', '@', '<', '>', '[' or ']' (NFKC
turns U+FF0E into '.', U+FF20 into '@', ...): lowercasing can add label
separators and address syntax to a domain; and the code points whose libpsl
lowercase is not lowercase (NFKC after lowercasing brings capitals back:
U+2124 -> "Z", U+03D2 -> U+03A5), which verdict_domain_alabel lowercases a
second time. It fails if a second pass is not a fixed point for some code
point (then verdict.c would need a third).

Writes (deterministic for one libpsl/Python pair; commit the results):
  fuzz/case_expanding.txt  the list: code point, UTF-8 bytes, bytes after
                           psl / lower / fold, class, name
  fuzz/verdict.dict        libFuzzer dictionary of fuzz_verdict: every listed
                           code point, the syntax and capital producers, Cyrillic/Greek/
                           full-width confusables, combining marks, "xn--"
                           prefixes, dots (U+002E U+3002 U+FF0E U+FF61), '@',
                           '<', '>', NUL, public suffixes, the field tags
  fuzz/smtp.dict           dictionary of fuzz_smtp: SMTP and header keywords,
                           and the same code points after "MAIL FROM:<x@" and
                           "From: <x@"

--check: write nothing, exit 1 if the files differ from what would be written
(a new libpsl or Unicode version). scripts/gen_hostile.py reads the classes of
case_expanding.txt to write tests/hostile/unicode_lower_*.pcap.gz.
"""

import ctypes
import ctypes.util
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

# Classes (for tests/hostile and the report): name, what, code point ranges.
# A code point belongs to the first class whose ranges hold it; every listed
# code point must belong to one.
CLASSES = [
    ("u0130", "U+0130 capital I with dot above: lowercase is i + U+0307 (2 -> 3 bytes)", [(0x130, 0x130)]),
    ("u023a", "U+023A/U+023E: lowercase U+2C65/U+2C66 (2 -> 3 bytes)", [(0x23A, 0x23A), (0x23E, 0x23E)]),
    ("latin", "Latin-1, Latin Extended, spacing modifiers: compatibility decompositions "
              "(U+00A8 -> space + U+0308, U+01C4 DZ with caron -> dz + U+030C)", [(0x80, 0x2FF)]),
    ("greek", "combining Greek, Greek and Greek Extended: tonos, dialytika, ypogegrammeni, "
              "case folding to several code points", [(0x300, 0x3FF), (0x1F00, 0x1FFF)]),
    ("armenian_arabic", "Armenian ligature ech yiwn, Arabic high hamza letters", [(0x500, 0x6FF)]),
    ("indic", "Devanagari, Bengali, Gurmukhi, Oriya nukta letters (composition exclusions, 3 -> 6 bytes)",
     [(0x900, 0xDFF)]),
    ("thai_lao_tibetan", "Thai/Lao sara am, Tibetan composed letters and vowel signs (3 -> 6 or 9 bytes)",
     [(0xE00, 0xFFF)]),
    ("symbols", "primes, fractions, integrals, parenthesized and enclosed numbers, math operators",
     [(0x2000, 0x2BFF)]),
    ("cjk_squares", "kana voiced marks, enclosed CJK, CJK compatibility squares (U+3300 -> 12 bytes, "
                    "U+3316 -> 18 bytes)", [(0x3000, 0x33FF)]),
    ("cjk_ideographs", "CJK compatibility ideographs mapped to supplementary-plane ideographs (3 -> 4 bytes)",
     [(0xF900, 0xFAFF)]),
    ("ligatures", "alphabetic presentation forms: Latin, Armenian and Hebrew ligatures", [(0xFB00, 0xFB4F)]),
    ("arabic_forms_a", "Arabic presentation forms A: ligatures up to U+FDFA (3 -> 33 bytes)", [(0xFB50, 0xFDFF)]),
    ("arabic_forms_b", "Arabic presentation forms B and small/vertical forms", [(0xFE00, 0xFEFF)]),
    ("musical", "musical symbols with decompositions (4 -> 8 or 12 bytes)", [(0x1D100, 0x1D1FF)]),
    ("enclosed_supplement", "enclosed alphanumeric and ideographic supplements (U+1F12A, U+1F200...)",
     [(0x1F100, 0x1F2FF)]),
]

SYNTAX = b".@<>[]"

# Confusables: letters that look like ASCII (Unicode confusables.txt; the
# Cyrillic ones are the set src/verdict.c checks), and full-width Latin
# (NFKC makes it ASCII).
CONFUSABLES = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04bb\u0501\u051b\u051d\u04cf"  # а е о р с у х і ј ѕ һ ԁ ԛ ԝ ӏ
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0406\u0408\u0405"  # А В Е К М Н О Р С Т Х І Ј Ѕ
    "\u03bf\u03bd\u03b1\u03b9\u03ba\u03c1\u03c4\u03c5\u03c7\u0391\u0392\u0395\u0396\u0397\u0399"  # ο ν α ι κ ρ τ υ χ Α Β Ε Ζ Η Ι
    "\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"  # Κ Μ Ν Ο Ρ Τ Υ Χ
    "\u0585\u057d\u0561\u0251\u0261\u0131\u0269\u026a"  # Armenian օ ս ա, Latin ɑ ɡ ı ɩ ɪ
    "\uff41\uff45\uff4f\uff50\uff43\uff58\uff59\uff29\uff2c\uff10\uff11"  # ａ ｅ ｏ ｐ ｃ ｘ ｙ Ｉ Ｌ ０ １
)
COMBINING = "\u0300\u0301\u0307\u0308\u030c\u0323\u0327\u0338\u034f\u0342\u0345\u093c\u20e3\u200c\u200d\ufe0f"
DOTS = ".\u3002\uff0e\uff61"
# look-alike domains in A-label form (Cyrillic "аррӏе", "раураl", Greek "ορεn")
IDN_WORDS = ["\u0430\u0440\u0440\u04cf\u0435", "\u0440\u0430\u0443\u0440\u0430l", "\u03bf\u03c1\u03b5n",
             "b\u00fccher", "m\u00fcnchen", "\u4f8b\u3048", "\u0440\u0444"]
SUFFIXES = [".com", ".org", ".net", ".co.uk", ".example", ".github.io", ".xn--p1ai", ".\u0440\u0444",
            ".xn--55qx5d", ".\u516c\u53f8", ".de", ".jp", ".blogspot.com"]


def load_psl():
    name = ctypes.util.find_library("psl") or "libpsl.so.5"
    psl = ctypes.CDLL(name)
    psl.psl_str_to_utf8lower.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_void_p)]
    psl.psl_str_to_utf8lower.restype = ctypes.c_int
    psl.psl_free_string.argtypes = [ctypes.c_void_p]
    psl.psl_get_version.restype = ctypes.c_char_p

    def lower(b):
        out = ctypes.c_void_p()
        if psl.psl_str_to_utf8lower(b, b"utf-8", b"en", ctypes.byref(out)) != 0 or not out.value:
            return None
        s = ctypes.string_at(out.value)
        psl.psl_free_string(out)
        return s
    return lower, psl.psl_get_version().decode()


def class_of(cp):
    for c in CLASSES:
        if any(lo <= cp <= hi for lo, hi in c[2]):
            return c[0]
    return None


def enumerate_all(lower):
    rows, syntax, caps, failures = [], {}, {}, 0
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        b = ch.encode()
        pl = lower(b)
        if pl is None:
            failures += 1
            pl = b
        low, fold = len(ch.lower().encode()), len(ch.casefold().encode())
        if len(pl) > len(b) or low > len(b) or fold > len(b):
            rows.append((cp, len(b), len(pl), low, fold))
        for s in SYNTAX:
            if bytes([s]) in pl:
                syntax.setdefault(cp, pl)
        if pl != b:
            pl2 = lower(pl)
            if pl2 is not None and pl2 != pl:
                caps[cp] = pl
                if lower(pl2) != pl2:
                    raise SystemExit("U+%04X: a second libpsl lowercase is no fixed point" % cp)
                if len(pl2) > len(pl):
                    raise SystemExit("U+%04X: a second libpsl lowercase lengthens" % cp)
    return rows, syntax, caps, failures


def cls(row):
    cp, n, pl = row[0], row[1], row[2]
    if pl <= n:
        return "casefold_only"  # Python lengthens it, libpsl does not
    c = class_of(cp)
    if c is None:
        raise SystemExit("U+%04X is in no class; extend CLASSES" % cp)
    return c


def esc(b):
    """A libFuzzer dictionary string literal."""
    out = []
    for x in b:
        if 0x20 <= x < 0x7F and x not in (0x22, 0x5C):
            out.append(chr(x))
        else:
            out.append("\\x%02x" % x)
    return '"' + "".join(out) + '"'


def alabel(word):
    return "xn--" + word.encode("punycode").decode()


def texts(rows, syntax, caps, version):
    head = ["# libpsl %s, Python %s (Unicode %s): %d code points lengthened by lowercasing"
            % (version, sys.version.split()[0], unicodedata.unidata_version, len(rows)),
            "# columns: code point, UTF-8 bytes, bytes after psl_str_to_utf8lower, str.lower(), "
            "str.casefold(), class, name"]
    lst = head + ["U+%04X %d %d %d %d %s %s" % (r + (cls(r), unicodedata.name(chr(r[0]), "?")))
                  for r in rows]
    lst += ["# classes:"] + ["#   %-20s %s" % (c[0], c[1]) for c in CLASSES]
    lst += ["#   %-20s %s" % ("casefold_only", "lengthened by str.casefold() only (not by libpsl, not by "
                                               "str.lower()): Greek with ypogegrammeni, U+01F0, U+0390...")]
    lst.append("# code points whose libpsl lowercase holds . @ < > [ ]:")
    lst += ["# U+%04X -> %s" % (cp, esc(pl)) for cp, pl in sorted(syntax.items())]
    lst.append("# code points whose libpsl lowercase a second pass changes (%d; capitals after NFKC):" % len(caps))
    lst += ["# U+%04X -> %s" % (cp, esc(pl)) for cp, pl in sorted(caps.items())]

    gen = "# Generated by fuzz/case_expanding.py (libpsl %s, Unicode %s); do not edit, rerun it." % (
        version, unicodedata.unidata_version)
    vd = [gen, "# field tags of fuzz_verdict.c"]
    vd += ['tag_%s="\\x0a%s"' % (t, t) for t in "HMRAFNPSDLfps"]
    vd += ['"\\x0aMx@"', '"\\x0aFx@"', '"\\x0aPx@"', '"\\x0aAx@"', '"\\x0aRx@"']
    vd += ['rep_%s="\\x0ar%s"' % (t, t) for t in "HMRAFNPSDLfpsX"]
    vd += ['"\\x0arM\\x7fx@\\x09"', '"\\x0arF\\x7fx@\\x09"', '"\\x0arf\\x7fx <x@\\x09"', '"\\x09"']
    vd.append("# every code point lowercasing lengthens (fuzz/case_expanding.txt)")
    vd += ["ce_%04X=%s" % (r[0], esc(chr(r[0]).encode())) for r in rows]
    vd.append("# code points libpsl lowercases into . @ < > [ ]")
    listed = {r[0] for r in rows}
    vd += ["syn_%04X=%s" % (cp, esc(chr(cp).encode())) for cp in sorted(syntax) if cp not in listed]
    listed |= set(syntax)
    vd.append("# code points libpsl lowercases into capitals")
    vd += ["cap_%04X=%s" % (cp, esc(chr(cp).encode())) for cp in sorted(caps) if cp not in listed]
    vd.append("# confusables, combining marks, dots")
    vd += ["conf_%04X=%s" % (ord(c), esc(c.encode())) for c in CONFUSABLES]
    vd += ["comb_%04X=%s" % (ord(c), esc(c.encode())) for c in COMBINING]
    vd += ["dot_%04X=%s" % (ord(c), esc(c.encode())) for c in DOTS]
    vd += ['"xn--"', '"XN--"', '".xn--"', '"xn--80ak6aa92e"', '"xn---"', '"xn--a-"', '"-"', '"--"']
    vd += ["idn=%s" % esc(w.encode()) for w in IDN_WORDS] + ["idn=%s" % esc(alabel(w).encode()) for w in IDN_WORDS]
    vd += ["sfx=%s" % esc(s.encode()) for s in SUFFIXES]
    vd += ['"@"', '"<"', '">"', '"["', '"]"', '"[IPv6:"', '"\\x00"', '" "', '"\\\\"', '"\\""',
           '"\\xc0\\x80"', '"\\xed\\xa0\\x80"', '"\\xf4\\x90\\x80\\x80"', '"\\xff"']

    sd = [gen, "# SMTP and header keywords"]
    kws = ["EHLO ", "HELO ", "MAIL FROM:<", "MAIL FROM:<>", "RCPT TO:<", "DATA\r\n", "\r\n.\r\n", "BDAT ",
           " LAST", "AUTH PLAIN ", "AUTH LOGIN", "STARTTLS\r\n", "RSET\r\n", "QUIT\r\n", "NOOP\r\n",
           " SMTPUTF8", " BODY=8BITMIME", " SIZE=", ">\r\n", "\r\n", "\r\n\r\n", "220 ", "235 ", "250 ",
           "250-", "334 ", "354 ", "421 ", "535 ", "From: ", "From: <", "Reply-To: ", "Sender: ",
           "To: ", "DKIM-Signature: v=1; d=", "List-Id: ", "Subject: =?UTF-8?B?", "?=", "Content-Type: "]
    sd += ["kw=%s" % esc(k.encode()) for k in kws]
    cps = [r[0] for r in rows] + [cp for cp in sorted(syntax) if cp not in {r[0] for r in rows}] + \
          [ord(c) for c in CONFUSABLES + COMBINING + DOTS]
    sd.append("# the code points of fuzz/verdict.dict in an envelope and a header address")
    sd += ["mf_%04X=%s" % (cp, esc(b"MAIL FROM:<x@" + chr(cp).encode())) for cp in cps]
    sd += ["hf_%04X=%s" % (cp, esc(b"From: <x@" + chr(cp).encode())) for cp in cps]
    return ("\n".join(lst) + "\n", "\n".join(vd) + "\n", "\n".join(sd) + "\n")


def main():
    check = "--check" in sys.argv[1:]
    lower, version = load_psl()
    rows, syntax, caps, failures = enumerate_all(lower)
    if failures:
        print("case_expanding: psl_str_to_utf8lower failed on %d code points" % failures, file=sys.stderr)
    out = dict(zip(("case_expanding.txt", "verdict.dict", "smtp.dict"), texts(rows, syntax, caps, version)))
    differ = 0
    for name, text in out.items():
        path = os.path.join(HERE, name)
        if check:
            try:
                with open(path) as f:
                    same = f.read() == text
            except OSError:
                same = False
            if not same:
                print("case_expanding: %s differs" % path)
                differ = 1
        else:
            with open(path, "w") as f:
                f.write(text)
    counts = {}
    for r in rows:
        counts[cls(r)] = counts.get(cls(r), 0) + 1
    print("case_expanding: %d code points (psl %d, str.lower %d, str.casefold %d), %d syntax producers, %d capital producers; %s" % (
        len(rows), sum(r[2] > r[1] for r in rows), sum(r[3] > r[1] for r in rows), sum(r[4] > r[1] for r in rows),
        len(syntax), len(caps), ", ".join("%s %d" % kv for kv in counts.items())))
    return differ


if __name__ == "__main__":
    sys.exit(main())
