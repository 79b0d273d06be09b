/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../pkg/cleanup.h"
#include "store.h"

#define LOCK_NAME "lock"
#define LAST_PREFIX "last_reserved_ip."
/* Larger contents cannot be a reservation we wrote; their owner counts as unknown. */
#define MAX_CONTENT 4096
/* Attachment hints (store.h, and their section below): larger ones are not ours. */
#define HINT_NAME_LEN 16
#define MAX_HINT 8192
/* The hint line naming the boot an attachment's addresses were given in; also the marker's. */
#define HINT_BOOT "boot="
#define HINT_PREFIX ".cnic-hint."
#define HINT_FILE_LEN (sizeof(HINT_PREFIX) - 1 + HINT_NAME_LEN)
#define MARK_NAME ".cnic-boot"
#define BOOT_ID_LEN 36
#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

enum link_mode {
	LINK_UNKNOWN,
	LINK_EMPTY_PATH, /* linkat(fd, "", AT_EMPTY_PATH) */
	LINK_PROC,	 /* linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW) */
	LINK_NAMED,	 /* no usable O_TMPFILE: a named temporary file */
};

struct ipam_store {
	int dirfd;
	int lockfd;
	int mark; /* the boot marker, MARK_*: seen under the lock, never given back */
	/* What the last scan saw besides reservations, while nothing changed since. */
	bool scanned, scan_mark;
	size_t scan_hints;
	bool legacy_done, legacy_moved;
	int legacy_fd;
	bool locked;
	bool reclaim;		    /* release other boots' reservations (ipam_store_set_reclaim) */
	int boot_state;		    /* 0: not read yet, 1: boot known, -1: unreadable */
	char boot[BOOT_ID_LEN + 1]; /* this boot's id */
	enum link_mode link_mode;
	char *path;
	char *network;
	char *legacy_parent; /* <data_dir>/.cnic, where older versions kept hints */
};

const char *ipam_store_path(const struct ipam_store *s)
{
	return s->path;
}

void ipam_store_set_reclaim(struct ipam_store *s, bool on)
{
	s->reclaim = on;
}

/* This boot's id (a UUID), or NULL when it cannot be read: then no hint records a boot. */
static const char *boot_id(struct ipam_store *s)
{
	cleanup_close int fd = -1;
	char buf[BOOT_ID_LEN + 2];
	ssize_t n;

	if (s->boot_state)
		return s->boot_state > 0 ? s->boot : NULL;
	s->boot_state = -1;
	fd = open(BOOT_ID_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < BOOT_ID_LEN)
		return NULL;
	for (int i = 0; i < BOOT_ID_LEN; i++)
		if (!(buf[i] == '-' || (buf[i] >= '0' && buf[i] <= '9') ||
		      (buf[i] >= 'a' && buf[i] <= 'f')))
			return NULL;
	memcpy(s->boot, buf, BOOT_ID_LEN);
	s->boot[BOOT_ID_LEN] = '\0';
	s->boot_state = 1;
	return s->boot;
}

void ipam_store_disable_tmpfile(struct ipam_store *s)
{
	s->link_mode = LINK_NAMED;
}

static bool name_is_safe(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* mkdir -p with mode 0755 (umask applies), as Go's os.MkdirAll. */
static int mkdir_parents(const char *path, struct cni_error **err)
{
	cleanup_free char *p = xstrdup(path);
	char saved;

	for (char *c = p + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		saved = *c;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return cni_error_errno(err, errno, "create directory %s", p);
		*c = saved;
		if (!saved)
			return 0;
	}
}

static int refuse_nondir(const char *path, int errnum, struct cni_error **err)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return cni_error_set(err, CNI_ERR_INTERNAL, ELOOP,
				     "network directory %s is a symbolic link: refusing to follow it",
				     path);
	return cni_error_errno(err, errnum, "open network directory %s", path);
}

int ipam_store_open(const char *data_dir, const char *network, bool create, struct ipam_store **ret,
		    struct cni_error **err)
{
	const int dflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	cleanup_free char *path = NULL;
	cleanup_close int dfd = -1, fd = -1;
	struct ipam_store *s;

	if (!data_dir || !*data_dir)
		data_dir = IPAM_DEFAULT_DATA_DIR;
	if (!name_is_safe(network))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "invalid network name \"%s\"",
				     network ? network : "");
	path = xasprintf("%s/%s", data_dir, network);

	/* Fast path: the directory exists.  O_NOFOLLOW applies to the network's own name. */
	fd = open(path, dflags | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		if (!create) {
			*ret = NULL;
			return 0;
		}
		/* The data dir itself may be a symlink (an admin's choice); the network dir may not. */
		dfd = open(data_dir, dflags);
		if (dfd < 0 && errno == ENOENT) {
			if (mkdir_parents(data_dir, err) < 0)
				return -1;
			dfd = open(data_dir, dflags);
		}
		if (dfd < 0)
			return cni_error_errno(err, errno, "open data directory %s", data_dir);
		if (mkdirat(dfd, network, 0755) < 0 && errno != EEXIST)
			return cni_error_errno(err, errno, "create directory %s", path);
		fd = openat(dfd, network, dflags | O_NOFOLLOW);
	}
	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR
			       ? refuse_nondir(path, errno, err)
			       : cni_error_errno(err, errno, "open network directory %s", path);

	s = xcalloc(1, sizeof(*s));
	s->dirfd = TAKE_FD(fd);
	s->lockfd = -1;
	s->legacy_fd = -1;
	s->reclaim = true;
	s->path = TAKE_PTR(path);
	s->network = xstrdup(network);
	s->legacy_parent = xasprintf("%s/.cnic", data_dir);
	*ret = s;
	return 0;
}

static volatile sig_atomic_t lock_timer_fired;

static void lock_timer_handler(int sig)
{
	lock_timer_fired = 1;
}

/*
 * Block in flock() like the reference, so the kernel hands the lock to
 * waiters in order the moment it is released, but bounded: an interval
 * timer interrupts the wait (SIGALRM without SA_RESTART makes flock fail
 * with EINTR).  The timer repeats after its first expiry so that a signal
 * landing just before flock() starts to sleep cannot leave us blocked.
 */
static int flock_timed(int fd, unsigned int timeout_ms)
{
	struct sigaction sa = { .sa_handler = lock_timer_handler }, old_sa;
	struct itimerval it = { 0 }, old_it;
	int r, saved;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return -1;
	if (timeout_ms == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	lock_timer_fired = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, &old_sa) < 0)
		return -1;
	it.it_value.tv_sec = timeout_ms / 1000;
	it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	it.it_interval.tv_usec = 10000;
	if (setitimer(ITIMER_REAL, &it, &old_it) < 0) {
		saved = errno;
		(void)sigaction(SIGALRM, &old_sa, NULL);
		errno = saved;
		return -1;
	}
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR && !lock_timer_fired)
		;
	saved = r < 0 ? (errno == EINTR ? ETIMEDOUT : errno) : 0;
	(void)setitimer(ITIMER_REAL, &old_it, NULL);
	(void)sigaction(SIGALRM, &old_sa, NULL);
	errno = saved;
	return r;
}

int ipam_store_lock(struct ipam_store *s, unsigned int timeout_ms, struct cni_error **err)
{
	struct stat st;

	if (s->locked)
		return 0;
	if (s->lockfd < 0) {
		/* O_NONBLOCK: a FIFO planted under this name must not hang us. */
		s->lockfd =
			openat(s->dirfd, LOCK_NAME,
			       O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
			       0750);
		if (s->lockfd < 0)
			return cni_error_errno(err, errno, "open lock file %s/" LOCK_NAME, s->path);
		if (fstat(s->lockfd, &st) < 0)
			return cni_error_errno(err, errno, "stat lock file %s/" LOCK_NAME, s->path);
		if (!S_ISREG(st.st_mode)) {
			close(s->lockfd);
			s->lockfd = -1;
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "lock file %s/" LOCK_NAME " is not a regular file",
					     s->path);
		}
	}
	if (flock_timed(s->lockfd, timeout_ms) < 0) {
		if (errno == ETIMEDOUT)
			return cni_error_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					     "timed out after %u ms waiting for the lock of %s: try again",
					     timeout_ms, s->path);
		return cni_error_errno(err, errno, "lock %s/" LOCK_NAME, s->path);
	}
	s->locked = true;
	return 0;
}

void ipam_store_free(struct ipam_store *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd); /* drops the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	free(s->network);
	free(s->legacy_parent);
	free(s);
}

void ipam_store_freep(struct ipam_store **s)
{
	ipam_store_free(*s);
	*s = NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_hex16(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return i == HINT_NAME_LEN;
}

static bool is_hint_file(const char *name)
{
	return strncmp(name, HINT_PREFIX, strlen(HINT_PREFIX)) == 0 &&
	       is_hex16(name + strlen(HINT_PREFIX));
}

/* ---- scan ---------------------------------------------------------------- */

/*
 * Read the owner of the reservation `name` into buf (trimmed as the
 * reference's strings.TrimSpace); NULL when it is not a regular file, is
 * unreadable or too large.
 */
static const char *read_owner(int dirfd, const char *name, unsigned char d_type, char *buf,
			      size_t *ret_len)
{
	cleanup_close int fd = -1;
	struct stat st;
	size_t len, b = 0;
	ssize_t n;

	if (d_type == DT_UNKNOWN) {
		/* Some file systems do not fill d_type: look before opening anything. */
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return NULL;
	} else if (d_type != DT_REG) {
		return NULL;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	/*
	 * One read: a regular file returns everything up to EOF at once, and
	 * buf has room for one byte more than any content we accept.
	 */
	do
		n = read(fd, buf, MAX_CONTENT + 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 || n > MAX_CONTENT)
		return NULL;
	len = (size_t)n;
	while (b < len && is_space(buf[b]))
		b++;
	while (len > b && is_space(buf[len - 1]))
		len--;
	buf[len] = '\0';
	*ret_len = len - b;
	return buf + b;
}

/*
 * Calls fn for every entry of dirfd from where its offset stands (callers
 * rewind it).  A nonzero return from fn stops the walk and is returned; a
 * failed read returns -errno.
 */
typedef int (*dir_entry_fn)(void *arg, const struct dirent64 *d);

static int dir_each(int dirfd, dir_entry_fn fn, void *arg)
{
	char dbuf[16384] __attribute__((aligned(8)));

	for (;;) {
		ssize_t n = getdents64(dirfd, dbuf, sizeof(dbuf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			const struct dirent64 *d = (const struct dirent64 *)(dbuf + off);
			int q;

			off += d->d_reclen;
			q = fn(arg, d);
			if (q)
				return q;
		}
	}
}

struct scan_walk {
	struct ipam_store *s;
	bool read_content;
	ipam_scan_fn fn;
	void *arg;
	struct cni_error **err;
	int r;
};

static int scan_entry(void *p, const struct dirent64 *d)
{
	struct scan_walk *w = p;
	struct ipam_store *s = w->s;
	const char *name = d->d_name;
	char content[MAX_CONTENT + 2];
	char canon[IPADDR_STRLEN];
	struct ipam_resv resv = { 0 };
	int q;

	if (name[0] == '.') {
		/* Ours can only be stale while we hold the lock: remove them. */
		if (s->locked && strncmp(name, IPAM_TMP_PREFIX, strlen(IPAM_TMP_PREFIX)) == 0)
			(void)unlinkat(s->dirfd, name, 0);
		/* Counted for DEL, which drops the marker with the last hint. */
		else if (is_hint_file(name))
			s->scan_hints++;
		else if (strcmp(name, MARK_NAME) == 0)
			s->scan_mark = true;
		return 0;
	}
	/* Only canonical address names are reservations ("lock", "last_reserved_ip.N" are not). */
	if (ipaddr_parse(name, &resv.ip) < 0 || strcmp(ipaddr_fmt(&resv.ip, canon), name) != 0)
		return 0;
	if (w->read_content)
		resv.content = read_owner(s->dirfd, name, d->d_type, content, &resv.len);
	q = w->fn(w->arg, &resv, w->err);
	if (q < 0)
		return 1;
	if (q == IPAM_SCAN_RELEASE && unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		w->r = cni_error_errno(w->err, errno, "release %s/%s", s->path, name);
	return 0;
}

static int store_scan(void *p, bool read_content, ipam_scan_fn fn, void *arg, struct cni_error **err)
{
	struct ipam_store *s = p;
	struct scan_walk w = { s, read_content, fn, arg, err, 0 };
	int q;

	if (lseek(s->dirfd, 0, SEEK_SET) < 0)
		return cni_error_errno(err, errno, "rewind %s", s->path);
	s->scan_hints = 0;
	s->scan_mark = false;
	q = dir_each(s->dirfd, scan_entry, &w);
	/* Whole and under the lock: what it saw holds until this process changes it. */
	s->scanned = q == 0 && s->locked;
	if (q < 0)
		return cni_error_errno(err, -q, "read directory %s", s->path);
	return q ? -1 : w.r;
}

/* ---- reserve / release ----------------------------------------------------- */

/* Write content to a fresh temporary file named tmp, closed again. */
static int write_named_tmp(struct ipam_store *s, const char *tmp, const char *content, size_t len,
			   struct cni_error **err)
{
	cleanup_close int fd = -1;

	for (int attempt = 0;; attempt++) {
		fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd >= 0 || errno != EEXIST || attempt)
			break;
		/* Left by a crash (we hold the lock: nobody else writes it now). */
		(void)unlinkat(s->dirfd, tmp, 0);
	}
	if (fd < 0)
		return cni_error_errno(err, errno, "create %s/%s", s->path, tmp);
	if (write_all(fd, content, len) < 0 || close(TAKE_FD(fd)) < 0) {
		int e = errno;

		(void)unlinkat(s->dirfd, tmp, 0);
		return cni_error_errno(err, e, "write %s/%s", s->path, tmp);
	}
	return 0;
}

/* Link the O_TMPFILE fd under name: 0, or -1 with errno (EEXIST: taken). */
static int link_tmpfile(struct ipam_store *s, int dirfd, int fd, const char *name)
{
	char proc[64];

	if (s->link_mode != LINK_PROC) {
		if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0) {
			s->link_mode = LINK_EMPTY_PATH;
			return 0;
		}
		/* Without CAP_DAC_READ_SEARCH (kernels before 6.10) this is ENOENT. */
		if (errno != ENOENT && errno != EPERM && errno != EINVAL)
			return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0) {
		s->link_mode = LINK_PROC;
		return 0;
	}
	return -1;
}

static int store_reserve(void *p, const struct ipaddr *ip, const char *id, const char *ifname,
			 bool *ret_reserved, struct cni_error **err)
{
	struct ipam_store *s = p;
	char name[IPADDR_STRLEN], tmp[sizeof(IPAM_TMP_PREFIX) + IPADDR_STRLEN];
	cleanup_free char *content = NULL;
	size_t b = 0, e = strlen(id), len;
	int r, errnum;

	ipaddr_fmt(ip, name);
	/* strings.TrimSpace(id) + "\r\n" + ifname, no trailing newline. */
	while (b < e && is_space(id[b]))
		b++;
	while (e > b && is_space(id[e - 1]))
		e--;
	content = xasprintf("%.*s\r\n%s", (int)(e - b), id + b, ifname);
	len = strlen(content);

	if (s->link_mode != LINK_NAMED) {
		cleanup_close int fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

		if (fd >= 0) {
			if (write_all(fd, content, len) < 0)
				return cni_error_errno(err, errno, "write reservation %s/%s",
						       s->path, name);
			r = link_tmpfile(s, s->dirfd, fd, name);
			if (r == 0 || errno == EEXIST) {
				*ret_reserved = r == 0;
				return 0;
			}
			if (errno != ENOENT && errno != EPERM && errno != EXDEV)
				return cni_error_errno(err, errno, "reserve %s/%s", s->path, name);
			/* No usable /proc either: fall through to a named file. */
		} else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
			return cni_error_errno(err, errno, "reserve %s/%s", s->path, name);
		}
		s->link_mode = LINK_NAMED;
	}

	snprintf(tmp, sizeof(tmp), IPAM_TMP_PREFIX "%s", name);
	if (write_named_tmp(s, tmp, content, len, err) < 0)
		return -1;
	r = linkat(s->dirfd, tmp, s->dirfd, name, 0);
	errnum = errno;
	(void)unlinkat(s->dirfd, tmp, 0);
	if (r < 0 && errnum != EEXIST)
		return cni_error_errno(err, errnum, "reserve %s/%s", s->path, name);
	*ret_reserved = r == 0;
	return 0;
}

static int store_release(void *p, const struct ipaddr *ip, struct cni_error **err)
{
	struct ipam_store *s = p;
	char name[IPADDR_STRLEN];

	ipaddr_fmt(ip, name);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		return cni_error_errno(err, errno, "release %s/%s", s->path, name);
	return 0;
}

static bool store_last_reserved(void *p, unsigned int idx, struct ipaddr *ret)
{
	struct ipam_store *s = p;
	char name[sizeof(LAST_PREFIX) + 12], buf[64];
	cleanup_close int fd = -1;
	size_t len, b = 0;
	ssize_t n;

	snprintf(name, sizeof(name), LAST_PREFIX "%u", idx);
	fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0 || n == sizeof(buf) - 1)
		return false; /* unreadable, or too long to be an address */
	len = (size_t)n;
	/* Tolerant where the reference is not: surrounding whitespace is fine. */
	while (b < len && is_space(buf[b]))
		b++;
	while (len > b && is_space(buf[len - 1]))
		len--;
	buf[len] = '\0';
	return ipaddr_parse(buf + b, ret) == 0;
}

/*
 * Rewritten in place (write at offset 0, then cut to length) rather than
 * through a temporary and rename(): on ext4 replacing a file by rename
 * (and truncating one to zero) forces its data out synchronously
 * (auto_da_alloc), which costs milliseconds per ADD.  A crash between the
 * two steps can leave a longer, different text; it is only a round-robin
 * hint, read tolerantly, and the reference's own O_TRUNC rewrite has the
 * same window (an empty file).
 */
static int store_set_last_reserved(void *p, unsigned int idx, const struct ipaddr *ip,
				   struct cni_error **err)
{
	struct ipam_store *s = p;
	char name[sizeof(LAST_PREFIX) + 12], text[IPADDR_STRLEN];
	cleanup_close int fd = -1;
	size_t len;
	ssize_t n;

	snprintf(name, sizeof(name), LAST_PREFIX "%u", idx);
	len = strlen(ipaddr_fmt(ip, text));
	fd = openat(s->dirfd, name,
		    O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return cni_error_errno(err, errno, "open %s/%s", s->path, name);
	do
		n = pwrite(fd, text, len, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len || ftruncate(fd, (off_t)len) < 0)
		return cni_error_errno(err, n < 0 ? errno : EIO, "write %s/%s", s->path, name);
	return 0;
}

/* ---- attachment hints ------------------------------------------------------ */

/*
 * In the network directory, beside the reference's files:
 *
 *   .cnic-hint.<16 hex digits>   "<id>\r\n<ifname>\nboot=<boot id>\n<ip>..." per attachment
 *   .cnic-boot                   "boot=<boot id>": the boot whose first ADD reclaimed the others
 *
 * The reference reads them when it walks the directory, and that is safe:
 * it matches files by their whole trimmed content against
 * "<id>\r\n<ifname>" or "<id>", which a hint (with at least one address
 * line) or the marker ('=' is not allowed in an ID) never equals, and
 * neither name parses as an address, so it never counts either as a
 * reservation.  A hint goes with its attachment, the marker with the last
 * hint: after the network's last DEL only the reference's own files are
 * left.  They are plain files in a directory that stays, not a directory
 * of their own: removing a directory on the last DEL and making it again
 * on the next ADD cost ext4 a block allocated and freed each time (about
 * 0.8 ms to evict the removed directory, the bulk of a DEL).
 *
 * Invariant, kept under the lock: a hint exists only with the marker
 * (written first, removed last).  So a missing marker means no hint to
 * reclaim, and an idle network's ADD reads one name, not the directory.
 *
 * Earlier versions kept hints in <data_dir>/.cnic/<network>/<16 hex> and
 * the marker in <data_dir>/.cnic/.boot.<network>; legacy_migrate moves
 * such hints in on first use (so one network's two layouts never disagree)
 * and removes what is left of the old layout.
 */
/* The named temporary of a hint, where O_TMPFILE is unusable: the scan's stale-temporary rule. */
#define HINT_TMP_PREFIX IPAM_TMP_PREFIX "hint."
#define LEGACY_DIR ".cnic"
#define LEGACY_MARK ".boot."

enum {
	MARK_UNKNOWN,
	MARK_MISSING,
	MARK_STALE,
	MARK_CURRENT
};

static void trim_id(const char *id, const char **ret, size_t *ret_len)
{
	size_t b = 0, e = strlen(id);

	while (b < e && is_space(id[b]))
		b++;
	while (e > b && is_space(id[e - 1]))
		e--;
	*ret = id + b;
	*ret_len = e - b;
}

/* HINT_PREFIX "<64-bit FNV-1a of "<trimmed id>\0<ifname>", in hex>". */
static void hint_name(const char *id, const char *ifname, char name[HINT_FILE_LEN + 1])
{
	uint64_t h = 0xcbf29ce484222325ull;
	const char *t;
	size_t len;

	trim_id(id, &t, &len);
	for (size_t i = 0; i <= len; i++) {
		h ^= i < len ? (unsigned char)t[i] : 0;
		h *= 0x100000001b3ull;
	}
	for (; *ifname; ifname++) {
		h ^= (unsigned char)*ifname;
		h *= 0x100000001b3ull;
	}
	snprintf(name, HINT_FILE_LEN + 1, HINT_PREFIX "%016" PRIx64, h);
}

/*
 * Read hint `name` into buf and split it in place: *ret_id and *ret_ifname
 * NUL-terminated, *ret_rest the address lines.  False when it is not a
 * regular file, unreadable, too large or not shaped like a hint.
 */
static bool hint_read(int hfd, const char *name, char *buf, char **ret_id, char **ret_ifname,
		      char **ret_rest, const char **ret_boot)
{
	cleanup_close int fd = -1;
	struct stat st;
	char *sep, *nl;
	ssize_t n;

	fd = openat(hfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	do
		n = read(fd, buf, MAX_HINT + 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || n > MAX_HINT)
		return false;
	buf[n] = '\0';
	if (strlen(buf) != (size_t)n)
		return false; /* a NUL inside: not ours */
	sep = strstr(buf, "\r\n");
	if (!sep)
		return false;
	*sep = '\0';
	*ret_id = buf;
	*ret_ifname = sep + 2;
	nl = strchr(sep + 2, '\n');
	if (nl)
		*nl++ = '\0';
	*ret_rest = nl ? nl : sep + 2 + strlen(sep + 2);
	/* Written first by store_hint_set; older hints have none (never reclaimed). */
	*ret_boot = NULL;
	if (strncmp(*ret_rest, HINT_BOOT, strlen(HINT_BOOT)) == 0) {
		char *b = *ret_rest + strlen(HINT_BOOT), *end = strchr(b, '\n');

		if (end)
			*end++ = '\0';
		*ret_boot = b;
		*ret_rest = end ? end : b + strlen(b);
	}
	return true;
}

/* The next parseable address line of *rest; garbage lines are skipped. */
static bool hint_next_ip(char **rest, struct ipaddr *ip)
{
	while (**rest) {
		char *line = *rest, *nl = strchr(line, '\n');
		size_t len;

		*rest = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = '\0';
		len = strlen(line);
		while (len && is_space(line[len - 1]))
			line[--len] = '\0';
		if (ipaddr_parse(line, ip) == 0)
			return true;
	}
	return false;
}

/*
 * Link content whole under `name` (which must not exist): O_TMPFILE, else
 * a named temporary renamed in.  Best effort: -1 when nothing was linked.
 */
static int hint_write(struct ipam_store *s, const char *name, const char *content, size_t len)
{
	char tmp[sizeof(HINT_TMP_PREFIX) + HINT_NAME_LEN];
	cleanup_close int fd = -1;

	if (s->link_mode != LINK_NAMED) {
		fd = openat(s->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (write_all(fd, content, len) < 0)
				return -1;
			if (link_tmpfile(s, s->dirfd, fd, name) == 0)
				return 0;
			/* One the marker did not announce (see the invariant): replaced. */
			if (errno != EEXIST || unlinkat(s->dirfd, name, 0) < 0)
				return -1;
			return link_tmpfile(s, s->dirfd, fd, name);
		}
	}
	snprintf(tmp, sizeof(tmp), HINT_TMP_PREFIX "%s", name + strlen(HINT_PREFIX));
	(void)unlinkat(s->dirfd, tmp, 0);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, content, len) < 0 || close(TAKE_FD(fd)) < 0 ||
	    renameat(s->dirfd, tmp, s->dirfd, name) < 0) {
		(void)unlinkat(s->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* ---- the boot marker ---- */

static int mark_state(struct ipam_store *s)
{
	cleanup_close int fd = -1;
	char buf[sizeof(HINT_BOOT) + BOOT_ID_LEN + 1];
	const char *now;
	ssize_t n;

	if (s->mark != MARK_UNKNOWN)
		return s->mark;
	fd = openat(s->dirfd, MARK_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return s->mark = errno == ENOENT ? MARK_MISSING : MARK_STALE;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	now = boot_id(s);
	/* A torn or foreign marker reads as stale: the next ADD just looks again. */
	s->mark = now && n == (ssize_t)(strlen(HINT_BOOT) + BOOT_ID_LEN) &&
				  memcmp(buf, HINT_BOOT, strlen(HINT_BOOT)) == 0 &&
				  memcmp(buf + strlen(HINT_BOOT), now, BOOT_ID_LEN) == 0
			  ? MARK_CURRENT
			  : MARK_STALE;
	return s->mark;
}

/*
 * Write the marker: this boot's reclaim is done (current), or not yet.
 * In place, like last_reserved_ip (no O_TRUNC: see store_set_last_reserved).
 */
static int mark_write(struct ipam_store *s, bool current)
{
	cleanup_close int fd = -1;
	cleanup_free char *text = NULL;
	size_t len;
	ssize_t n;

	current = current && boot_id(s);
	text = xasprintf(HINT_BOOT "%s", current ? s->boot : "");
	len = strlen(text);
	/* None there (under the lock): a new file needs no cut to length. */
	fd = openat(s->dirfd, MARK_NAME,
		    O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
			    (s->mark == MARK_MISSING ? O_EXCL : 0),
		    0600);
	if (fd < 0)
		return -1;
	do
		n = pwrite(fd, text, len, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len || (s->mark != MARK_MISSING && ftruncate(fd, (off_t)len) < 0)) {
		s->mark = MARK_STALE;
		return -1;
	}
	s->mark = current ? MARK_CURRENT : MARK_STALE;
	return 0;
}

static void mark_drop(struct ipam_store *s)
{
	if (unlinkat(s->dirfd, MARK_NAME, 0) == 0 || errno == ENOENT)
		s->mark = MARK_MISSING;
}

/* ---- the old layout ---- */

/* Move one old-layout hint in; a newer one already here wins. */
static void legacy_move(struct ipam_store *s, int ofd, const char *old)
{
	char name[HINT_FILE_LEN + 1], buf[MAX_HINT + 2];
	struct stat so, sn;
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(name, sizeof(name), HINT_PREFIX "%s", old);
	if (renameat2(ofd, old, s->dirfd, name, RENAME_NOREPLACE) == 0)
		return;
	if (errno == EEXIST) {
		if (fstatat(ofd, old, &so, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fstatat(s->dirfd, name, &sn, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(so.st_mode) &&
		    (so.st_mtim.tv_sec > sn.st_mtim.tv_sec ||
		     (so.st_mtim.tv_sec == sn.st_mtim.tv_sec &&
		      so.st_mtim.tv_nsec > sn.st_mtim.tv_nsec)) &&
		    renameat(ofd, old, s->dirfd, name) == 0)
			return;
	} else if (errno == EXDEV || errno == EINVAL || errno == ENOSYS) {
		/* Another file system (or no renameat2): copied, if it is a hint. */
		fd = openat(ofd, old, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			do
				n = read(fd, buf, MAX_HINT + 1);
			while (n < 0 && errno == EINTR);
			if (n > 0 && n <= MAX_HINT &&
			    faccessat(s->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
				(void)hint_write(s, name, buf, (size_t)n);
		}
	}
	(void)unlinkat(ofd, old, 0);
}

static int legacy_entry(void *p, const struct dirent64 *d)
{
	struct ipam_store *s = p;
	int ofd = s->legacy_fd;
	struct stat st;
	bool reg = d->d_type == DT_REG;

	if (d->d_type == DT_UNKNOWN)
		reg = fstatat(ofd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	if (is_hex16(d->d_name) && reg) {
		legacy_move(s, ofd, d->d_name);
		s->legacy_moved = true;
	} else if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
		/* Temporaries, or nothing a hint could be: the directory is going. */
		(void)unlinkat(ofd, d->d_name, 0);
	}
	return 0;
}

/*
 * Under the lock (which old versions take too), before any hint is used:
 * one failed open when there is no old layout, which is the rule.
 */
static void legacy_migrate(struct ipam_store *s)
{
	cleanup_free char *old = NULL, *mark = NULL;
	cleanup_close int pfd = -1, ofd = -1;

	if (s->legacy_done || !s->locked)
		return;
	s->legacy_done = true;
	old = xasprintf("%s/%s", s->legacy_parent, s->network);
	ofd = open(old, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0)
		return;
	close(TAKE_FD(ofd));
	/* The data dir may be a symlink (an admin's choice), .cnic never was followed. */
	pfd = open(s->legacy_parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return;
	ofd = openat(pfd, s->network, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0)
		return;
	s->legacy_fd = ofd;
	(void)dir_each(ofd, legacy_entry, s);
	s->legacy_fd = -1;
	mark = xasprintf(LEGACY_MARK "%s", s->network);
	(void)unlinkat(pfd, mark, 0);
	(void)unlinkat(pfd, s->network, AT_REMOVEDIR);
	/* .cnic itself once no network uses it (ENOTEMPTY otherwise). */
	(void)unlinkat(AT_FDCWD, s->legacy_parent, AT_REMOVEDIR);
	if (s->legacy_moved) {
		/*
		 * Hints need the marker.  Not current, whatever it said: the
		 * moved hints may be other boots', so the next ADD looks.
		 */
		s->scanned = false;
		(void)mark_state(s);
		(void)mark_write(s, false);
	}
}

/* ---- hint operations ---- */

static void store_hint_get(void *p, const char *id, const char *ifname, struct ipaddr **ret,
			   size_t *n, bool *ret_other_boot)
{
	struct ipam_store *s = p;
	char name[HINT_FILE_LEN + 1], buf[MAX_HINT + 2];
	char *hid, *hif, *rest;
	const char *t, *hboot, *now;
	size_t tlen;
	struct ipaddr ip;

	*ret = NULL;
	*n = 0;
	*ret_other_boot = false;
	legacy_migrate(s);
	hint_name(id, ifname, name);
	/* Read even without the marker: a hint it lacks still does the duplicate check. */
	if (!hint_read(s->dirfd, name, buf, &hid, &hif, &rest, &hboot))
		return;
	trim_id(id, &t, &tlen);
	/* Another attachment with the same hash: not our hint. */
	if (strlen(hid) != tlen || memcmp(hid, t, tlen) != 0 || strcmp(hif, ifname) != 0)
		return;
	now = s->reclaim ? boot_id(s) : NULL;
	*ret_other_boot = now && hboot && strcmp(hboot, now) != 0;
	while (hint_next_ip(&rest, &ip))
		*(struct ipaddr *)xappend(ret, n, sizeof(ip)) = ip;
}

struct hint_count {
	struct ipam_store *s;
	size_t n;
};

static int hint_count_entry(void *p, const struct dirent64 *d)
{
	struct hint_count *c = p;

	c->n += is_hint_file(d->d_name);
	return 0;
}

/* How many hints the network directory holds (names only). */
static size_t hints_present(struct ipam_store *s)
{
	struct hint_count c = { s, 0 };

	if (s->scanned)
		return s->scan_hints;
	if (lseek(s->dirfd, 0, SEEK_SET) < 0 || dir_each(s->dirfd, hint_count_entry, &c) != 0)
		return SIZE_MAX; /* unknown: keep the marker */
	return c.n;
}

static void store_hint_set(void *p, const char *id, const char *ifname, const struct ipaddr *ips,
			   size_t n)
{
	struct ipam_store *s = p;
	char name[HINT_FILE_LEN + 1], abuf[IPADDR_STRLEN];
	cleanup_free char *content = NULL;
	bool none_yet = false;
	size_t tlen;
	const char *t;

	if (!s->locked)
		return;
	legacy_migrate(s);
	hint_name(id, ifname, name);
	if (n == 0) {
		/* Counted before the unlink, so this one is among them if it was there. */
		size_t before = hints_present(s);
		bool mark_seen = !s->scanned || s->scan_mark;

		if (unlinkat(s->dirfd, name, 0) == 0)
			before--;
		else if (errno != ENOENT)
			return;
		s->scanned = false;
		if (before == 0) {
			if (mark_seen)
				mark_drop(s);
			else
				s->mark = MARK_MISSING;
		}
		return;
	}
	/* The marker first (the invariant above); none before: no hint to replace either. */
	if (mark_state(s) == MARK_MISSING) {
		/* Nothing to reclaim without hints: this boot's pass is done. */
		if (mark_write(s, true) < 0)
			return;
		none_yet = true;
	}
	/*
	 * Removed first, then the new one linked in whole: a crash in between
	 * loses the hint (a missed duplicate check), never leaves a torn one.
	 * Not rename(): replacing a file by rename forces its data out
	 * synchronously on ext4 (auto_da_alloc).
	 */
	if (!none_yet && unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		return;
	s->scanned = false;
	trim_id(id, &t, &tlen);
	/* Recorded whether or not reclaiming is on: turning it on later then works. */
	content = boot_id(s)
			  ? xasprintf("%.*s\r\n%s\n" HINT_BOOT "%s", (int)tlen, t, ifname, s->boot)
			  : xasprintf("%.*s\r\n%s", (int)tlen, t, ifname);
	for (size_t i = 0; i < n; i++) {
		char *c = xasprintf("%s\n%s", content, ipaddr_fmt(&ips[i], abuf));

		free(content);
		content = c;
	}
	if (strlen(content) <= MAX_HINT)
		(void)hint_write(s, name, content, strlen(content));
}

static int store_owner(void *p, const struct ipaddr *ip, const char *id, const char *ifname)
{
	struct ipam_store *s = p;
	char name[IPADDR_STRLEN], buf[MAX_CONTENT + 2];
	const char *content;
	size_t len = 0;

	ipaddr_fmt(ip, name);
	content = read_owner(s->dirfd, name, DT_UNKNOWN, buf, &len);
	return ipam_owner_match(content, len, id, ifname);
}

struct hint_walk {
	struct ipam_store *s;
	size_t kept;
	/* reclaim only: the attachment being added, its ID trimmed (keep_len bytes) */
	const char *keep_id;
	size_t keep_len;
	const char *keep_ifname;
};

static int hint_gc_entry(void *p, const struct dirent64 *d)
{
	struct hint_walk *w = p;
	struct ipam_store *s = w->s;
	char buf[MAX_HINT + 2];
	char *hid, *hif, *rest;
	const char *hboot;
	struct ipaddr ip;
	bool held = false;

	if (!is_hint_file(d->d_name) || d->d_type == DT_DIR)
		return 0;
	if (hint_read(s->dirfd, d->d_name, buf, &hid, &hif, &rest, &hboot))
		while (!held && hint_next_ip(&rest, &ip))
			held = store_owner(s, &ip, hid, hif) != IPAM_OWNER_NONE;
	if (!held)
		(void)unlinkat(s->dirfd, d->d_name, 0);
	w->kept += held;
	return 0;
}

static void store_hint_gc(void *p)
{
	struct ipam_store *s = p;
	struct hint_walk w = { .s = s };

	if (!s->locked)
		return;
	legacy_migrate(s);
	if (lseek(s->dirfd, 0, SEEK_SET) < 0 || dir_each(s->dirfd, hint_gc_entry, &w) != 0)
		return;
	s->scanned = false;
	if (!w.kept)
		mark_drop(s);
}

/*
 * The first ADD of a boot (under the lock) releases what ADDs of earlier
 * boots reserved: no network namespace survives a reboot, so no live
 * container can hold those addresses.  Only reservations a cnic hint lists
 * with another boot's id, and whose file still names the hint's attachment
 * exactly, are released; the reference's reservations (no hint) and hints
 * written before boots were recorded are never touched.  The attachment
 * being added (keep_id, keep_ifname) is skipped: ADD gives it its old
 * addresses back.  The marker records that this boot's pass is done, so
 * later ADDs pay one small read.  Best effort: what fails stays reserved.
 */
static int reclaim_entry(void *p, const struct dirent64 *d)
{
	struct hint_walk *w = p;
	struct ipam_store *s = w->s;
	char buf[MAX_HINT + 2];
	char *hid, *hif, *rest;
	const char *hboot;
	struct ipaddr ip;

	if (!is_hint_file(d->d_name) || d->d_type == DT_DIR)
		return 0;
	if (!hint_read(s->dirfd, d->d_name, buf, &hid, &hif, &rest, &hboot) || !hboot ||
	    strcmp(hboot, s->boot) == 0 ||
	    (strlen(hid) == w->keep_len && memcmp(hid, w->keep_id, w->keep_len) == 0 &&
	     strcmp(hif, w->keep_ifname) == 0)) {
		w->kept++;
		return 0;
	}
	while (hint_next_ip(&rest, &ip))
		if (store_owner(s, &ip, hid, hif) == IPAM_OWNER_EXACT)
			(void)store_release(s, &ip, NULL);
	(void)unlinkat(s->dirfd, d->d_name, 0);
	return 0;
}

static void store_reclaim(void *p, const char *keep_id, const char *keep_ifname)
{
	struct ipam_store *s = p;
	struct hint_walk w = { .s = s, .keep_ifname = keep_ifname };

	if (!s->reclaim || !s->locked || !boot_id(s))
		return;
	legacy_migrate(s);
	/* Missing: no hint, nothing to reclaim (the next hint writes the marker). */
	if (mark_state(s) != MARK_STALE)
		return;
	trim_id(keep_id, &w.keep_id, &w.keep_len);
	if (lseek(s->dirfd, 0, SEEK_SET) < 0 || dir_each(s->dirfd, reclaim_entry, &w) != 0)
		return;
	s->scanned = false;
	if (w.kept)
		(void)mark_write(s, true);
	else
		mark_drop(s);
}

const struct ipam_store_ops ipam_disk_store_ops = {
	.scan = store_scan,
	.reserve = store_reserve,
	.release = store_release,
	.last_reserved = store_last_reserved,
	.set_last_reserved = store_set_last_reserved,
	.hint_get = store_hint_get,
	.hint_set = store_hint_set,
	.owner = store_owner,
	.hint_gc = store_hint_gc,
	.reclaim = store_reclaim,
};
