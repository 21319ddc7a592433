/* sandbox — no_new_privs, Landlock and seccomp-BPF once the inputs and
 * outputs are open; contract in include/sandbox.h, design and limits in
 * docs/security.md ("Hardening and sandbox"). Raw system calls only: no
 * libseccomp, no liblandlock. */
#include "sandbox.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <link.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#if defined(__has_include)
#if __has_include(<linux/landlock.h>)
#include <linux/landlock.h>
#endif
#endif

#include "verdict.h"

/* ------------------------------------------------------------------ */
/* build and platform                                                  */

/* Sanitizer runtimes read /proc/self/maps and start llvm-symbolizer when
 * they report, and make system calls of their own: the sandbox would hide
 * their reports. Those builds run without it (the normal build is the one
 * tests/t_sandbox.sh and the suite check). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SB_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SB_SANITIZER 1
#endif
#endif
#ifndef SB_SANITIZER
#define SB_SANITIZER 0
#endif

#if defined(LANDLOCK_CREATE_RULESET_VERSION) && defined(__NR_landlock_create_ruleset) && \
    defined(__NR_landlock_add_rule) && defined(__NR_landlock_restrict_self)
#define SB_LANDLOCK 1
#else
#define SB_LANDLOCK 0
#endif

/* The allow-list below is written for these two; elsewhere seccomp is
 * skipped (Landlock still applies). */
#if defined(__x86_64__) && !defined(__ILP32__)
#define SB_SECCOMP 1
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SB_SET_RET(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (greg_t)(v))
#elif defined(__aarch64__)
#define SB_SECCOMP 1
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define SB_SET_RET(uc, v) ((uc)->uc_mcontext.regs[0] = (unsigned long long)(v))
#else
#define SB_SECCOMP 0
#endif

static bool g_debug; /* SMTPSCOPE_SANDBOX_DEBUG=1 */

__attribute__((format(printf, 1, 2))) static void debug(const char *fmt, ...)
{
	if (!g_debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("smtpscope: sandbox: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int fail(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "sandbox: %s: %s (--no-sandbox runs without it)", what, strerror(e));
	return -1;
}

/* ------------------------------------------------------------------ */
/* before: one thread, and what would otherwise be loaded later        */

/* Threads of this process, from /proc/self/task; 0 when unknown. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

#define SB_MAX_DIRS 16

struct dirlist {
	char *path[SB_MAX_DIRS];
	size_t n;
};

static void dirlist_add(struct dirlist *l, const char *p, size_t n)
{
	if (!n || l->n >= SB_MAX_DIRS)
		return;
	char tmp[4096], real[PATH_MAX];
	if (n < sizeof tmp) { /* one rule per directory, whatever symlinks lead to it (/lib -> usr/lib) */
		memcpy(tmp, p, n);
		tmp[n] = '\0';
		if (realpath(tmp, real)) {
			p = real;
			n = strlen(real);
		}
	}
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->path[i]) == n && memcmp(l->path[i], p, n) == 0)
			return;
	char *s = malloc(n + 1);
	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = '\0';
	l->path[l->n++] = s;
}

/* Each entry of a colon-separated list (GCONV_PATH, TERMINFO_DIRS, LOCPATH). */
static void dirlist_add_env(struct dirlist *l, const char *var)
{
	const char *v = getenv(var);
	while (v && *v) {
		const char *c = strchr(v, ':');
		size_t n = c ? (size_t)(c - v) : strlen(v);
		dirlist_add(l, v, n);
		v = c ? c + 1 : NULL;
	}
}

static void dirlist_free(struct dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->path[i]);
	l->n = 0;
}

static int find_gconv(struct dl_phdr_info *info, size_t size, void *user)
{
	(void)size;
	const char *name = info->dlpi_name, *slash = name ? strrchr(name, '/') : NULL;
	if (slash && slash - name >= 6 && memcmp(slash - 6, "/gconv", 6) == 0)
		dirlist_add(user, name, (size_t)(slash - name));
	return 0;
}

/* Load now what the run would otherwise load after the sandbox is in place:
 *  - the time zone (tzset: /etc/localtime; the UI's localtime_r) — loaded;
 *  - the Public Suffix List (verdict.c asks libpsl for the system list on the
 *    first finding; psl_latest reads /usr/share/publicsuffix) — loaded, by
 *    asking for an Organizational Domain; a non-ASCII domain exercises
 *    libpsl's Unicode lowercasing too;
 *  - iconv (RFC 2047 and RFC 2231 charsets, src/imf_rfc2047.c): the module
 *    cache is loaded by opening one conversion, but which modules a run
 *    needs depends on the traffic, so their directory stays readable (found
 *    from the module just loaded, libc's own directory, and GCONV_PATH).
 * Terminfo and locale files for the UI are left readable by path (ui_run
 * calls setlocale and newterm itself). */
static void preload(struct dirlist *gconv)
{
	tzset();
	char buf[256];
	(void)verdict_org_domain("example.co.uk", buf, sizeof buf);
	(void)verdict_domain_alabel("b\xc3\xbc" "cher.example", buf, sizeof buf);
	iconv_t cd = iconv_open("UTF-8", "ISO-8859-1");
	dl_iterate_phdr(find_gconv, gconv);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	Dl_info di;
	if (dladdr((void *)iconv_open, &di) && di.dli_fname) {
		const char *slash = strrchr(di.dli_fname, '/');
		if (slash) {
			char p[512];
			snprintf(p, sizeof p, "%.*s/gconv", (int)(slash - di.dli_fname), di.dli_fname);
			dirlist_add(gconv, p, strlen(p));
		}
	}
	dirlist_add_env(gconv, "GCONV_PATH");
}

/* ------------------------------------------------------------------ */
/* Landlock                                                            */

#if SB_LANDLOCK
/* Newer than some installed headers (Debian 12's stops at ABI 2). */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define SB_NET_BIND_TCP    (1ULL << 0) /* LANDLOCK_ACCESS_NET_BIND_TCP, ABI 4 */
#define SB_NET_CONNECT_TCP (1ULL << 1) /* LANDLOCK_ACCESS_NET_CONNECT_TCP */
#define SB_SCOPE_ABSTRACT  (1ULL << 0) /* LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, ABI 6 */
#define SB_SCOPE_SIGNAL    (1ULL << 1) /* LANDLOCK_SCOPE_SIGNAL */

/* struct landlock_ruleset_attr as of ABI 6; passed with the size the
 * kernel's ABI knows (8, 16 or 24 bytes). */
struct sb_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define FS_FILE (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
                 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV) /* what a rule on a non-directory may grant */
#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* O_PATH descriptors of rules on /proc and /sys: kept open for the life of
 * the process, because pseudo-file systems make new inodes for a path once
 * its dentry is evicted, and a Landlock rule is tied to the inode. */
static int g_pinned[8];
static size_t g_npinned;

struct ll {
	int fd;              /* the ruleset */
	uint64_t handled;    /* file-system rights handled at this ABI */
	unsigned rules;
	char *err;
	size_t errlen;
};

/* Allow rights beneath path (on the file itself for a non-directory).
 * A path that does not exist gets no rule (nothing to allow); an error from
 * the kernel is fatal. */
static int ll_allow(struct ll *l, const char *path, uint64_t rights, bool pin)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		debug("no rule for %s: %s", path, strerror(errno));
		return 0;
	}
	struct stat st;
	st.st_mode = 0;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rights &= FS_FILE;
	struct landlock_path_beneath_attr pb = { .allowed_access = rights & l->handled, .parent_fd = fd };
	if (syscall(__NR_landlock_add_rule, l->fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0) {
		int e = errno;
		close(fd);
		char what[600];
		snprintf(what, sizeof what, "Landlock rule for %s", path);
		return fail(l->err, l->errlen, what, e);
	}
	l->rules++;
	debug("allow%s%s%s%s%s%s%s%s on %s", (rights & LANDLOCK_ACCESS_FS_READ_FILE) ? " read" : "",
	      (rights & LANDLOCK_ACCESS_FS_READ_DIR) ? " list" : "",
	      (rights & LANDLOCK_ACCESS_FS_WRITE_FILE) ? " write" : "",
	      (rights & LANDLOCK_ACCESS_FS_MAKE_REG) ? " create" : "",
	      (rights & LANDLOCK_ACCESS_FS_REMOVE_FILE) ? " remove" : "",
	      (rights & LANDLOCK_ACCESS_FS_TRUNCATE & l->handled) ? " truncate" : "",
	      (rights & LANDLOCK_ACCESS_FS_IOCTL_DEV & l->handled) ? " ioctl" : "",
	      S_ISDIR(st.st_mode) ? " (beneath)" : "", path);
	if (pin && g_npinned < sizeof g_pinned / sizeof g_pinned[0])
		g_pinned[g_npinned++] = fd;
	else
		close(fd);
	return 0;
}

static void ll_dirs(struct ll *l, const struct dirlist *d, uint64_t rights, int *rc)
{
	for (size_t i = 0; i < d->n && *rc == 0; i++)
		*rc = ll_allow(l, d->path[i], rights, false);
}

static int landlock(const struct sandbox_opts *o, const struct dirlist *gconv, char *err, size_t errlen)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		/* ENOSYS: kernel built without it; EOPNOTSUPP: not enabled at boot (lsm=) */
		debug("Landlock not available (%s): the file system is not restricted", strerror(errno));
		return 0;
	}
	struct sb_ruleset_attr ra = { FS_ABI1, 0, 0 };
	size_t ra_size = sizeof ra.handled_access_fs;
	if (abi >= 2)
		ra.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		ra.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 4) { /* no rule allows a port: no TCP bind or connect at all */
		ra.handled_access_net = SB_NET_BIND_TCP | SB_NET_CONNECT_TCP;
		ra_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 5)
		ra.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 6) { /* no abstract Unix sockets or signals outside this process */
		ra.scoped = SB_SCOPE_ABSTRACT | SB_SCOPE_SIGNAL;
		ra_size = sizeof ra;
	}
	struct ll l = { -1, ra.handled_access_fs, 0, err, errlen };
	l.fd = (int)syscall(__NR_landlock_create_ruleset, &ra, ra_size, 0);
	if (l.fd < 0)
		return fail(err, errlen, "Landlock ruleset", errno);

	const uint64_t out_dir = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
	                         LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	int rc = 0;
	/* iconv modules, loaded on the first message in a new charset */
	ll_dirs(&l, gconv, FS_READ, &rc);
	/* --max-memory reads the resident size (src/analyzer.c, opened on first use) */
	if (rc == 0)
		rc = ll_allow(&l, "/proc/self/statm", LANDLOCK_ACCESS_FS_READ_FILE, true);
	/* glibc's malloc reads it once, when it first shrinks a thread's heap
	 * (check_may_shrink_heap: strict overcommit changes how) */
	if (rc == 0)
		rc = ll_allow(&l, "/proc/sys/vm/overcommit_memory", LANDLOCK_ACCESS_FS_READ_FILE, true);
	/* libpcap's pcap_stats() reads the interface's drop counters from sysfs
	 * (rx_missed_errors, rx_fifo_errors) each time it is asked */
	if (rc == 0 && o->iface && !strchr(o->iface, '/') && strcmp(o->iface, "..") != 0 && strcmp(o->iface, ".") != 0) {
		char p[300];
		snprintf(p, sizeof p, "/sys/class/net/%s/statistics", o->iface);
		rc = ll_allow(&l, p, FS_READ, true);
	}
	/* --tls-keylog FILE: re-read as it grows during -i (src/tls_keys.c);
	 * the rule is on the file, so a key log replaced by another file is
	 * not re-read (its keys so far stay) */
	for (size_t i = 0; rc == 0 && i < o->n_keylogs; i++)
		rc = ll_allow(&l, o->keylogs[i], LANDLOCK_ACCESS_FS_READ_FILE, false);
	/* --extract DIR: <name>.eml/.json created, the sidecar truncated and
	 * rewritten, an empty reservation removed at the end */
	if (rc == 0 && o->extract_dir)
		rc = ll_allow(&l, o->extract_dir, out_dir, false);
	/* --dump-streams DIR: f<ID>.c2s/.s2c and index.tsv; the directory is
	 * made here (src/analyzer.c would make it a moment later, and a rule
	 * needs it to exist); a failure is left to analyzer_new to report */
	if (rc == 0 && o->dump_dir) {
		if (mkdir(o->dump_dir, 0755) != 0 && errno != EEXIST)
			debug("--dump-streams %s: %s", o->dump_dir, strerror(errno));
		rc = ll_allow(&l, o->dump_dir, out_dir | LANDLOCK_ACCESS_FS_READ_DIR, false); /* opened O_DIRECTORY */
	}
	/* --mbox FILE is open; messages too large to hold spill to unlinked
	 * temporary files in its directory (src/extract.c spill_open). An
	 * O_TMPFILE file needs only read and write beneath the directory (no
	 * create, remove or truncate); where the file system has no O_TMPFILE
	 * (tried here), the mkstemp + unlink fallback needs create and remove
	 * as well */
	if (rc == 0 && o->mbox_path) {
		const char *slash = strrchr(o->mbox_path, '/');
		char p[4096];
		if (!slash)
			snprintf(p, sizeof p, ".");
		else if (slash == o->mbox_path)
			snprintf(p, sizeof p, "/");
		else
			snprintf(p, sizeof p, "%.*s", (int)(slash - o->mbox_path), o->mbox_path);
		uint64_t r = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
		int t = open(p, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (t >= 0)
			close(t);
		else
			r |= LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REMOVE_FILE;
		rc = ll_allow(&l, p, r, false);
	}
	if (rc == 0 && o->ui) {
		/* ncurses reads the terminal's description in newterm(), the
		 * locale is loaded by setlocale() in ui_run(), and the keyboard is
		 * /dev/tty when standard input is the capture */
		struct dirlist ti = { { 0 }, 0 }, loc = { { 0 }, 0 };
		const char *e = getenv("TERMINFO"), *home = getenv("HOME");
		if (e)
			dirlist_add(&ti, e, strlen(e));
		if (home && *home) {
			char p[4096];
			snprintf(p, sizeof p, "%s/.terminfo", home);
			dirlist_add(&ti, p, strlen(p));
		}
		dirlist_add_env(&ti, "TERMINFO_DIRS");
		static const char *const ti_std[] = { "/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo",
			                              "/usr/lib/terminfo", "/usr/local/share/terminfo" };
		for (size_t i = 0; i < sizeof ti_std / sizeof ti_std[0]; i++)
			dirlist_add(&ti, ti_std[i], strlen(ti_std[i]));
		dirlist_add_env(&loc, "LOCPATH");
		static const char *const loc_std[] = { "/usr/lib/locale", "/usr/share/locale" };
		for (size_t i = 0; i < sizeof loc_std / sizeof loc_std[0]; i++)
			dirlist_add(&loc, loc_std[i], strlen(loc_std[i]));
		ll_dirs(&l, &ti, FS_READ, &rc);
		ll_dirs(&l, &loc, FS_READ, &rc);
		dirlist_free(&ti);
		dirlist_free(&loc);
		if (rc == 0) /* Debian: /usr/share/locale/locale.alias -> /etc/locale.alias */
			rc = ll_allow(&l, "/etc/locale.alias", LANDLOCK_ACCESS_FS_READ_FILE, false);
		if (rc == 0)
			rc = ll_allow(&l, "/dev/tty",
			              LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_IOCTL_DEV,
			              false);
	}
	if (rc == 0 && syscall(__NR_landlock_restrict_self, l.fd, 0) != 0)
		rc = fail(err, errlen, "Landlock restrict_self", errno);
	close(l.fd);
	if (rc == 0)
		debug("Landlock ABI %ld: %u rules; everything else on the file system is refused%s%s", abi, l.rules,
		      abi >= 4 ? "; no TCP bind/connect" : "",
		      abi >= 6 ? "; no abstract Unix sockets or signals outside the process" : "");
	return rc;
}
#else
static int landlock(const struct sandbox_opts *o, const struct dirlist *gconv, char *err, size_t errlen)
{
	(void)o, (void)gconv, (void)err, (void)errlen;
	debug("built without Landlock (no <linux/landlock.h>): the file system is not restricted");
	return 0;
}
#endif

/* ------------------------------------------------------------------ */
/* seccomp                                                             */

#if SB_SECCOMP
/* An unknown system call is trapped, not killed: SIGSYS's handler makes it
 * return -ENOSYS (as if the kernel had no such call, which libc and the
 * libraries handle: glibc falls back from clone3 to clone, for example) and
 * says so once per call number, so a call this list forgot degrades one
 * operation with a diagnosis instead of killing a long capture. */
static volatile sig_atomic_t g_quiet;
static volatile unsigned char g_seen[1024 / 8];

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	int saved = errno;
	ucontext_t *uc = ctx;
	SB_SET_RET(uc, -ENOSYS);
	int nr = si->si_syscall;
	if (!g_quiet && nr >= 0 && nr < 1024 && !(g_seen[nr / 8] & (1u << (nr % 8)))) {
		g_seen[nr / 8] |= (unsigned char)(1u << (nr % 8));
		char msg[160] = "smtpscope: sandbox: system call ", num[12];
		size_t k = 0;
		do
			num[k++] = (char)('0' + nr % 10);
		while ((nr /= 10) > 0);
		size_t n = strlen(msg);
		while (k)
			msg[n++] = num[--k];
		static const char tail[] = " refused (ENOSYS); --no-sandbox lifts the sandbox\n";
		memcpy(msg + n, tail, sizeof tail - 1);
		n += sizeof tail - 1;
		ssize_t w = write(STDERR_FILENO, msg, n);
		(void)w;
	}
	errno = saved;
}

/* Allowed outright, the frequent ones first (the filter is a linear scan).
 * Calls on paths (openat, unlinkat, mkdir, ...) are allowed: where they
 * may act is Landlock's business (analyzer_new's mkdir of an existing
 * --dump-streams directory must see EEXIST, for example). Not here, so
 * trapped: socket, connect, bind, accept, dup*, execve, ptrace,
 * mount, bpf, io_uring, keyctl, perf_event_open, process_vm_*, unshare,
 * setns, memfd_create, userfaultfd, open_by_handle_at, chmod/chown,
 * rename/link/symlink, mkdir, kexec, reboot, ... */
static const int allowed[] = {
	__NR_read, __NR_futex, __NR_ppoll, __NR_madvise, __NR_mmap, __NR_munmap,
	__NR_pread64, __NR_readv, __NR_lseek, __NR_clock_gettime,
	__NR_gettimeofday, __NR_sched_yield, __NR_mremap, __NR_mprotect, __NR_brk, __NR_close,
	__NR_openat, __NR_fstat, __NR_newfstatat, __NR_statx,
	__NR_getsockopt, __NR_setsockopt, __NR_recvfrom, __NR_recvmsg, __NR_pselect6,
	__NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn, __NR_sigaltstack, __NR_restart_syscall,
	__NR_getpid, __NR_gettid, __NR_getppid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid,
	__NR_tgkill, __NR_tkill, __NR_kill, __NR_exit, __NR_exit_group, __NR_set_robust_list, __NR_rseq,
	__NR_sched_getaffinity, __NR_getrandom, __NR_clock_getres, __NR_clock_nanosleep, __NR_nanosleep,
	__NR_wait4, __NR_waitid, __NR_unlinkat, __NR_ftruncate, __NR_fsync, __NR_fdatasync, __NR_faccessat,
	__NR_readlinkat, __NR_getdents64, __NR_mkdirat, __NR_getcwd, __NR_uname, __NR_sysinfo, __NR_prlimit64,
	__NR_getrlimit, __NR_getrusage,
#ifdef __NR_poll
	__NR_poll,
#endif
#ifdef __NR_faccessat2
	__NR_faccessat2,
#endif
#ifdef __NR_futex_waitv
	__NR_futex_waitv,
#endif
#ifdef __NR_time
	__NR_time,
#endif
#ifdef __NR_open
	__NR_open,
#endif
#ifdef __NR_stat
	__NR_stat,
#endif
#ifdef __NR_lstat
	__NR_lstat,
#endif
#ifdef __NR_select
	__NR_select,
#endif
#ifdef __NR_unlink
	__NR_unlink,
#endif
#ifdef __NR_mkdir
	__NR_mkdir,
#endif
#ifdef __NR_access
	__NR_access,
#endif
#ifdef __NR_readlink
	__NR_readlink,
#endif
};

#define SB_ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(uint64_t) + \
                      (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0 : 4))
#define NALLOWED (sizeof allowed / sizeof allowed[0])
#define SB_PROG_MAX (NALLOWED + 64)

static int seccomp_filter(const struct sandbox_opts *o, char *err, size_t errlen)
{
	struct sock_filter f[SB_PROG_MAX];
	size_t n = 0;
#define EMIT(x) (f[n++] = (struct sock_filter)x)
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 1, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS)); /* another ABI (i386 int 0x80): none of ours */
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef __X32_SYSCALL_BIT
	EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
#endif
#ifdef __NR_clone3
	/* glibc's pthread_create tries clone3 first; its flags are in memory
	 * the filter cannot read, so ENOSYS sends it to clone, checked below */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
#endif
	/* clone: threads (the worker) only; fork is trapped */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4));
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	/* write, writev, pwrite64: anywhere but the live capture's packet
	 * socket, where a write sends a frame onto the network; with dup and
	 * F_DUPFD refused, no other descriptor number can name that socket */
	static const int writes[] = { __NR_write, __NR_writev, __NR_pwrite64 };
	for (size_t i = 0; i < 3; i++) {
		if (o->capture_fd >= 0) {
			EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)writes[i], 0, 4));
			EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0)));
			EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)o->capture_fd, 1, 0));
			EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
			EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
		} else {
			EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)writes[i], 0, 1));
			EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
		}
	}
	/* fcntl: flags and locks, not a duplicate (F_DUPFD, F_DUPFD_CLOEXEC) */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 0, 5));
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(1)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_DUPFD, 2, 0));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_DUPFD_CLOEXEC, 1, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	/* prctl: naming a thread (the worker: pthread_setname_np) */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 5));
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(0)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_NAME, 1, 0));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_GET_NAME, 0, 1));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	/* ioctl: anything (terminal modes and size, libpcap) except pushing
	 * input into the terminal (TIOCSTI) or console tricks (TIOCLINUX); the
	 * request is an unsigned int, so its low word is the whole of it */
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5));
	EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SB_ARG_LO(1)));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 2, 0));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 1, 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
	size_t allow_at = n + NALLOWED + 1; /* the RET ALLOW after the list and the default */
	for (size_t i = 0; i < NALLOWED; i++) {
		size_t jt = allow_at - n - 1;
		EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[i], (uint8_t)jt, 0));
	}
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
	_Static_assert(NALLOWED + 2 < 256, "a jump over the list must fit in 8 bits");

	g_quiet = o->quiet;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return fail(err, errlen, "SIGSYS handler", errno);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &ss, NULL); /* a blocked SIGSYS would kill instead */

	struct sock_fprog prog = { (unsigned short)n, f };
	/* seccomp(2), not the older prctl: where seccomp(2) is unknown (Linux <
	 * 3.17, or valgrind, which passes the prctl through but then cannot run
	 * its own system calls under the filter) there is no filter */
	long rc = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	if (rc != 0) {
		if (errno == EINVAL || errno == ENOSYS) { /* no CONFIG_SECCOMP_FILTER, or see above */
			debug("seccomp not available (%s): system calls are not restricted", strerror(errno));
			return 0;
		}
		return fail(err, errlen, "seccomp filter", errno);
	}
	debug("seccomp: %zu system calls allowed, %d of them with argument checks (%zu BPF instructions)%s; others return ENOSYS, reported once",
	      NALLOWED + 7, o->capture_fd >= 0 ? 7 : 4, n, o->capture_fd >= 0 ? "; no writes to the capture socket" : "");
	return 0;
}
#else
static int seccomp_filter(const struct sandbox_opts *o, char *err, size_t errlen)
{
	(void)o, (void)err, (void)errlen;
	debug("no seccomp allow-list for this architecture: system calls are not restricted");
	return 0;
}
#endif

/* ------------------------------------------------------------------ */
/* the probe (tests)                                                   */

static void probe_say(const char *what, const char *arg, int e)
{
	fprintf(stderr, "smtpscope: sandbox probe: %s %s: %s\n", what, arg, e ? strerror(e) : "ok");
	fflush(stderr);
}

static void probe(const char *list, int capture_fd)
{
	char *copy = strdup(list), *save = NULL;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "write=", 6) == 0 || strncmp(t, "read=", 5) == 0) {
			bool w = t[0] == 'w';
			const char *p = t + (w ? 6 : 5);
			int fd = open(p, w ? O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0600);
			probe_say(w ? "write" : "read", p, fd < 0 ? errno : 0);
			if (fd >= 0)
				close(fd);
		} else if (strncmp(t, "tcp=", 4) == 0) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (s < 0) {
				probe_say("socket", "AF_INET", errno);
				continue;
			}
			struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(t + 4)),
				                   .sin_addr = { htonl(INADDR_LOOPBACK) } };
			int rc = connect(s, (struct sockaddr *)&sin, sizeof sin);
			probe_say("connect", t + 4, rc ? errno : 0);
			close(s);
		} else if (strcmp(t, "dup") == 0) {
			int fd = dup(STDERR_FILENO);
			probe_say("dup", "2", fd < 0 ? errno : 0);
			if (fd >= 0)
				close(fd);
		} else if (strcmp(t, "capwrite") == 0) { /* a broadcast frame of zeros, on the capture socket */
			static const unsigned char frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
			ssize_t w = capture_fd >= 0 ? write(capture_fd, frame, sizeof frame) : -1;
			probe_say("capwrite", capture_fd >= 0 ? "capture socket" : "(no live capture)",
			          capture_fd < 0 ? EBADF : w < 0 ? errno : 0);
		} else if (strcmp(t, "fork") == 0) {
			fflush(NULL);
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			probe_say("fork", "-", pid < 0 ? errno : 0);
			if (pid > 0)
				waitpid(pid, NULL, 0);
		} else if (strncmp(t, "exec=", 5) == 0) {
			fflush(NULL);
			char *argv[] = { t + 5, NULL };
			execv(t + 5, argv);
			probe_say("exec", t + 5, errno); /* reached only when refused */
		} else {
			probe_say("unknown", t, EINVAL);
		}
	}
	free(copy);
}

/* ------------------------------------------------------------------ */

int sandbox_apply(const struct sandbox_opts *o, char *err, size_t errlen)
{
	const char *d = getenv("SMTPSCOPE_SANDBOX_DEBUG");
	g_debug = d && *d && strcmp(d, "0") != 0;
	if (SB_SANITIZER) {
		debug("off in sanitizer builds (their reports need /proc and llvm-symbolizer)");
		return 0;
	}
	int nt = thread_count();
	if (nt > 1) {
		snprintf(err, errlen, "sandbox: %d threads already run; it must be set up before the first one starts "
		         "(a bug; --no-sandbox runs without it)", nt);
		return -1;
	}
	struct dirlist gconv = { { 0 }, 0 };
	preload(&gconv);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		/* before Linux 3.5; neither Landlock nor seccomp exist there */
		debug("PR_SET_NO_NEW_PRIVS: %s: no sandbox", strerror(errno));
		dirlist_free(&gconv);
		return 0;
	}
	debug("no_new_privs set");
	int rc = landlock(o, &gconv, err, errlen);
	dirlist_free(&gconv);
	if (rc == 0)
		rc = seccomp_filter(o, err, errlen);
	const char *p = getenv("SMTPSCOPE_SANDBOX_PROBE");
	if (rc == 0 && p && *p)
		probe(p, o->capture_fd);
	return rc;
}
