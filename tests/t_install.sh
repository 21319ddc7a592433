#!/bin/sh
# make install honours PREFIX and DESTDIR; the man page renders.
. "$(dirname "$0")/lib.sh"
make -s install DESTDIR="$TMP/root" PREFIX=/opt/ss >/dev/null 2>&1
check "binary installed under DESTDIR/PREFIX" test -x "$TMP/root/opt/ss/bin/smtpscope"
check "man page installed" test -f "$TMP/root/opt/ss/share/man/man1/smtpscope.1"
check "installed binary runs" sh -c "'$TMP/root/opt/ss/bin/smtpscope' --version | grep -q smtpscope"
if command -v groff >/dev/null 2>&1 || command -v nroff >/dev/null 2>&1; then
	check "man page renders without warnings" sh -c "man -l '$TMP/root/opt/ss/share/man/man1/smtpscope.1' 2>&1 >/dev/null | grep -v '^$' | wc -l | grep -qx 0"
fi
finish
