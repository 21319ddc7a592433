#!/bin/sh
# The layers stay one-way (docs/design.md, "Layers"; the table is
# scripts/layers.txt): scripts/check_layers.sh passes on the tree, and fails,
# naming file and line, on a copy of the tree with each kind of violation
# planted in turn (an include of a higher layer from a .c and from a header,
# the two back-edges this table was made to remove, a curses include outside
# the UI, JSON escaping in a parser, a file of no module) while the edges the
# coming TLS layer needs (smtp -> tls.h, tls -> anomaly.h) pass.
. "$(dirname "$0")/lib.sh"

CHECK=scripts/check_layers.sh
out=$(sh "$CHECK" 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "the tree keeps its layers"; else fail "the tree breaks its layers:"; echo "$out"; fi

# a fresh copy of the parts the check reads
fresh() {
	rm -rf "$TMP/t"
	mkdir -p "$TMP/t/scripts"
	cp -r src include "$TMP/t/"
	cp scripts/layers.txt "$TMP/t/scripts/"
}
# plant FILE LINE TEXT: insert TEXT after line LINE of FILE in the copy
plant() {
	f="$TMP/t/$1"
	[ -e "$f" ] || : >"$f"
	awk -v n="$2" -v t="$3" '{ print } NR == n { print t } END { if (NR < n || NR == 0) print t }' "$f" >"$f.new" && mv "$f.new" "$f"
}
# want_fail NAME PATTERN: the check fails and its output matches PATTERN
want_fail() {
	got=$(sh "$CHECK" "$TMP/t" 2>&1)
	grc=$?
	if [ $grc -eq 1 ] && printf '%s\n' "$got" | grep -Eq "$2"; then ok "$1"; else fail "$1 (rc $grc): $got"; fi
}
want_pass() {
	got=$(sh "$CHECK" "$TMP/t" 2>&1)
	grc=$?
	if [ $grc -eq 0 ] && [ -z "$got" ]; then ok "$1"; else fail "$1 (rc $grc): $got"; fi
}

fresh; plant src/reasm.c 3 '#include "smtp.h"'
want_fail "net -> smtp is refused, with file and line" '^src/reasm\.c:4: includes "smtp\.h" \(layer smtp\) from layer net'
fresh; plant include/imf.h 20 '#  include "out.h"'
want_fail "a header of the mail layer including out.h is refused" '^include/imf\.h:21: includes "out\.h" \(layer out\) from layer mail'
fresh; plant src/msgwire.c 8 '#include "extract.h"'
want_fail "msgwire -> extract (the old back-edge) is refused" '^src/msgwire\.c:9: includes "extract\.h" \(layer out\)'
fresh; plant src/imf.c 30 'static void f(struct sbuf *o, const char *s) { esc_json_str(o, s); }'
want_fail "JSON escaping inside the header parser (the other back-edge) is refused" '^src/imf\.c:31: calls esc_json_str .* from layer mail'
fresh; plant src/verdict.c 30 '/* esc_tty(out, ...) in a comment is fine */'
want_pass "a formatter named in a comment is not a call"
fresh; plant src/smtp.c 3 '#include "ui_model.h"'
want_fail "smtp -> ui is refused" '^src/smtp\.c:4: includes "ui_model\.h" \(layer ui\) from layer smtp'
fresh; plant src/analyzer.c 3 '#include "ui.h"'
want_fail "app -> ui is refused" '^src/analyzer\.c:4: includes "ui\.h" \(layer ui\) from layer app'
fresh; plant src/out_text.c 3 '#include <curses.h>'
want_fail "<curses.h> outside the UI is refused" '^src/out_text\.c:4: includes <curses\.h>, which only module ui may include'
fresh; plant src/decode.c 3 '#include <pcap/pcap.h>'
want_fail "<pcap/pcap.h> outside capture is refused" '^src/decode\.c:4: includes <pcap/pcap\.h>, which only module capture'
fresh; plant src/newthing.c 1 '#include "sbuf.h"'
want_fail "a file of no module is refused" '^src/newthing\.c:1: belongs to no module'
fresh; plant src/tls_record.c 1 '#include "tls.h"'; plant src/tls_record.c 2 '#include "anomaly.h"'
plant src/smtp_reply.c 1 '#include "smtp.h"'; plant src/smtp_reply.c 2 '#include "tls.h"'
plant src/analyzer.c 3 '#include "tls_crypt.h"'
want_pass "the coming TLS layer: tls -> anomaly, smtp -> tls, analyzer -> tls_crypt pass"
fresh; plant src/tls_record.c 1 '#include "smtp.h"'
want_fail "tls -> smtp is refused (tls sits below smtp)" '^src/tls_record\.c:1: includes "smtp\.h" \(layer smtp\) from layer tls'
fresh; plant src/tls_planted.c 1 '#include "flow.h"'; plant src/tls_planted.c 2 '#include "msgwire.h"'
want_fail "only the offending line is named" '^src/tls_planted\.c:2: includes "msgwire\.h"'
got=$(sh "$CHECK" "$TMP/t" 2>&1)
if printf '%s\n' "$got" | grep -q 'flow\.h'; then fail "flow.h (a lower layer) was named too: $got"; else ok "a lower layer's header is not named"; fi
finish
