/* sandbox — confine the process once the capture is open, privileges are
 * dropped and the outputs are open (OpenSSH's privsep child, in one process):
 *
 *   1. lazily loaded resources are loaded now (time zone, Public Suffix List,
 *      iconv's module cache) or their directories stay readable (iconv
 *      modules, terminfo and locales for the UI);
 *   2. PR_SET_NO_NEW_PRIVS;
 *   3. Landlock, where the kernel has it: file-system access only to what the
 *      run still needs (the output directories it writes, a few read-only
 *      system directories), no TCP bind/connect (ABI 4), no abstract Unix
 *      sockets or signals outside the process (ABI 6);
 *   4. a seccomp-BPF allow-list of system calls (x86-64 and AArch64): an
 *      unknown call fails with ENOSYS and is reported once on stderr, it
 *      does not kill.
 *
 * Everything is per thread and inherited by threads created later, so it
 * must run while the process has one thread (before the worker starts);
 * sandbox_apply() refuses otherwise. Details, and what a parser bug can still
 * reach: docs/security.md, "Hardening and sandbox".
 *
 * Environment (diagnostics and tests): SMTPSCOPE_SANDBOX_DEBUG=1 says on
 * stderr what was applied and what the kernel lacks; SMTPSCOPE_SANDBOX_PROBE
 * lists actions to try once the sandbox is in place (tests/t_sandbox.sh),
 * comma-separated: write=PATH, read=PATH, tcp=PORT (connect to 127.0.0.1),
 * fork, exec=PATH, dup, capwrite (a frame written to the live capture's
 * socket); each result is one line "smtpscope: sandbox probe: ...". */
#ifndef SMTPSCOPE_SANDBOX_H
#define SMTPSCOPE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

struct sandbox_opts {
	bool ui;                 /* the ncurses UI will run: terminfo, locales and /dev/tty stay readable */
	bool quiet;              /* -q: no warning when a refused system call is first seen */
	const char *iface;       /* -i IFACE, or NULL: libpcap reads the interface's sysfs drop counters */
	int capture_fd;          /* the live capture's packet socket (no writes: they would send), or -1 */
	const char *extract_dir; /* --extract DIR (already created): files created, written, removed in it */
	const char *mbox_path;   /* --mbox FILE (already open): its directory takes the spill files */
	const char *dump_dir;    /* --dump-streams DIR: created here if missing; files created in it */
	const char *const *keylogs; /* --tls-keylog FILEs, re-read during live capture (read only) */
	size_t n_keylogs;
};

/* Confine the calling process as above. Returns 0 when the sandbox is in
 * place, also when the kernel lacks Landlock or seccomp (that part is then
 * skipped, said only with SMTPSCOPE_SANDBOX_DEBUG); -1 with a message in
 * err when it could not be set up (the caller stops: --no-sandbox runs
 * without it). */
int sandbox_apply(const struct sandbox_opts *o, char *err, size_t errlen);

#endif
