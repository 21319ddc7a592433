#!/bin/sh
# check_layers.sh [ROOT] — every #include "..." of ROOT/src/*.c, ROOT/src/*.h
# and ROOT/include/*.h must name a header of the file's own layer or a lower
# one, the "only" system headers may be included by their module alone, and
# the "from" functions (output formatting) are called from their layer and
# above only (ROOT/scripts/layers.txt). Prints one line per offence,
# "file:line: ...", and exits 1 if there is any; 0 and nothing otherwise.
ROOT=${1:-$(dirname "$0")/..}
TABLE=$ROOT/scripts/layers.txt
[ -r "$TABLE" ] || { echo "check_layers: no $TABLE" >&2; exit 2; }
cd "$ROOT" || exit 2
files=$(ls src/*.c src/*.h include/*.h 2>/dev/null)
[ -n "$files" ] || { echo "check_layers: no sources under $ROOT" >&2; exit 2; }
# shellcheck disable=SC2086
awk -v table=scripts/layers.txt '
function base(p,   b) { b = p; sub(/.*\//, "", b); sub(/\.[^.]*$/, "", b); return b }
# the module of base name b: the longest listed name equal to b or a "name_" prefix of it
function module(b,   m, best) {
	best = ""
	for (m in layer_of)
		if ((b == m || index(b, m "_") == 1) && length(m) > length(best))
			best = m
	return best
}
BEGIN {
	n = 0
	while ((getline line < table) > 0) {
		sub(/#.*/, "", line)
		k = split(line, w, /[ \t]+/)
		if (k == 0 || (k == 1 && w[1] == "")) continue
		if (w[1] == "") { for (i = 1; i < k; i++) w[i] = w[i + 1]; k-- }
		if (w[1] == "from") {
			for (i = 3; i <= k; i++) { fmt_from[w[i]] = w[2]; nfmt++ }
			continue
		}
		if (w[1] == "only") {
			for (i = 2; i < k; i++) only[w[i]] = w[k]
			continue
		}
		n++
		rank[w[1]] = n
		lname[n] = w[1]
		for (i = 2; i <= k; i++) layer_of[w[i]] = n
	}
	close(table)
	if (!n) { print "check_layers: empty table " table > "/dev/stderr"; exit 2 }
	for (f in fmt_from)
		if (!(fmt_from[f] in rank)) { print "check_layers: unknown layer " fmt_from[f] > "/dev/stderr"; exit 2 }
	bad = 0
}
FNR == 1 {
	mod = module(base(FILENAME))
	if (mod == "") {
		printf "%s:1: belongs to no module of %s (add it to a layer)\n", FILENAME, table
		bad++
	}
	lv = mod == "" ? 0 : layer_of[mod]
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
	if (mod == "") next
	h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
	hm = module(base(h))
	if (hm == "") {
		printf "%s:%d: includes \"%s\", which belongs to no module of %s\n", FILENAME, FNR, h, table
		bad++
	} else if (layer_of[hm] > lv) {
		printf "%s:%d: includes \"%s\" (layer %s) from layer %s: a lower layer must not know a higher one\n",
		       FILENAME, FNR, h, lname[layer_of[hm]], lname[lv]
		bad++
	}
	next
}
/^[ \t]*#[ \t]*include[ \t]*</ {
	h = $0; sub(/^[^<]*/, "", h); sub(/>.*/, ">", h)
	if ((h in only) && only[h] != mod) {
		printf "%s:%d: includes %s, which only module %s may include\n", FILENAME, FNR, h, only[h]
		bad++
	}
}
# a call of an output formatter below its layer (comment lines skipped)
nfmt && mod != "" && $0 !~ /^[ \t]*(\/\*|\*)/ {
	for (f in fmt_from)
		if (lv < rank[fmt_from[f]] && mod != module(f) && match($0, "(^|[^A-Za-z0-9_])" f "[ \t]*\\(")) {
			printf "%s:%d: calls %s (output formatting, layer %s and above) from layer %s\n",
			       FILENAME, FNR, f, fmt_from[f], lname[lv]
			bad++
		}
}
END { exit bad ? 1 : 0 }
' $files
