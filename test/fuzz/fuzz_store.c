/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-local disk store read back from a hostile network directory,
 * and the allocator on top of it.
 *
 * The input plants entries in a fresh network directory: records of
 * [kind][name selector][length][payload...].  Kinds: regular files with
 * the payload as content (reservations, last_reserved_ip.N, lock,
 * temporaries, non-canonical names, a resolv.conf), symlinks to a file
 * outside the directory, FIFOs, directories, and addresses to request.
 * Then: lock, scan, read the round-robin hint, ADD (two range sets), CHECK,
 * DEL, GC, and parse resolv.conf if one was planted.
 *
 * Invariants: nothing blocks (a FIFO is never opened blocking: libFuzzer's
 * -timeout catches a hang); a scan reports only entries whose name is a
 * canonical address, with content only for regular files and equal to the
 * trimmed file; an ADD hands out an address inside its set, not a gateway,
 * whose name was free (a symlink, FIFO or directory counts as taken), and
 * writes "<id>\r\n<ifname>" mode 0600; a failed ADD leaves no new
 * reservation; DEL leaves no reservation of the owner; symlinks, FIFOs,
 * directories and the file outside are never modified, followed or removed.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "../../ipam/alloc.h"
#include "../../ipam/config.h"
#include "../../ipam/store.h"
#include "fuzz.h"

#define ID "fuzz-id"
#define IFNAME "eth0"
#define OWNER ID "\r\n" IFNAME
#define NET "net"
#define MAX_ENTRIES 64

static const char *const names[] = {
	"198.18.0.0",
	"198.18.0.1",
	"198.18.0.2",
	"198.18.0.3",
	"198.18.0.4",
	"198.18.0.5",
	"198.18.0.6",
	"198.18.0.7",
	"198.18.0.8",
	"198.18.0.9",
	"198.18.0.10",
	"198.18.0.11",
	"198.18.0.12",
	"198.18.0.13",
	"198.18.0.14",
	"198.18.0.15",
	"2001:db8::1",
	"2001:db8::2",
	"2001:db8::3",
	"2001:db8::e",
	"2001:db8::f",
	"lock",
	"last_reserved_ip.0",
	"last_reserved_ip.1",
	IPAM_TMP_PREFIX "198.18.0.2",
	"198.018.0.3",
	"::ffff:198.18.0.4",
	"2001:db8:0::2",
	"2001:DB8::3",
	"garbage",
	"resolv.conf",
	".hidden",
};

enum kind {
	K_FILE,
	K_FILE2,
	K_SYMLINK,
	K_FIFO,
	K_DIR,
	K_REQUEST,
	K_HINT,
	K_COUNT
};

static char base[64];
static int dirfd_net = -1;
/*
 * The store keeps per-attachment hints in the network directory
 * (.cnic-hint.<name>), and moves in those an older version kept in
 * <data_dir>/.cnic/<network>/<name> (hint_dir).  <name> for (ID, IFNAME) is
 * learnt once by a probe ADD; "" when this store keeps none.
 */
static char hint_name[64];
static char hint_dir[128];
static char outside[96];
static const char outside_content[] = OWNER;

struct entry {
	char name[40];
	mode_t type; /* S_IFREG, ... */
	char content[4200];
	ssize_t len; /* regular files; -1: larger than the buffer */
};

struct snapshot {
	struct entry e[MAX_ENTRIES];
	size_t n;
};

static void remove_all(int dfd)
{
	DIR *d = fdopendir(dup(dfd));
	struct dirent *de;

	FUZZ_CHECK(d != NULL, "fdopendir: %s", strerror(errno));
	rewinddir(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0 && errno == EISDIR) {
			int sub = openat(dfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			FUZZ_CHECK(sub >= 0, "open subdir");
			remove_all(sub);
			close(sub);
			FUZZ_CHECK(unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0, "rmdir %s",
				   de->d_name);
		}
	}
	closedir(d);
}

/* Remove every hint of the network (they live outside its directory). */
static void clear_hints(void)
{
	int fd = open(hint_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	remove_all(fd);
	close(fd);
}

static void cleanup_base(void)
{
	if (dirfd_net >= 0) {
		remove_all(dirfd_net);
		close(dirfd_net);
	}
	if (*base) {
		char p[160];

		clear_hints();
		rmdir(hint_dir);
		snprintf(p, sizeof(p), "%s/.cnic", base);
		rmdir(p);
		snprintf(p, sizeof(p), "%s/" NET, base);
		rmdir(p);
		unlink(outside);
		rmdir(base);
	}
}

static void setup_once(void)
{
	const char *tmp = getenv("TMPDIR");
	char p[160];
	int fd;

	if (dirfd_net >= 0)
		return;
	snprintf(base, sizeof(base), "%s/cnic-fuzz-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(base) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/" NET, base);
	FUZZ_CHECK(mkdir(p, 0755) == 0, "mkdir");
	dirfd_net = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(dirfd_net >= 0, "open net dir");
	snprintf(outside, sizeof(outside), "%s/outside", base);
	fd = open(outside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0 && write(fd, outside_content, strlen(outside_content)) ==
				      (ssize_t)strlen(outside_content),
		   "write outside file");
	close(fd);
	snprintf(hint_dir, sizeof(hint_dir), "%s/.cnic/" NET, base);
	atexit(cleanup_base);
}


static void take(struct snapshot *s)
{
	DIR *d = fdopendir(dup(dirfd_net));
	struct dirent *de;

	FUZZ_CHECK(d != NULL, "fdopendir");
	rewinddir(d);
	s->n = 0;
	while ((de = readdir(d))) {
		struct entry *e;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		FUZZ_CHECK(s->n < MAX_ENTRIES, "too many entries");
		e = &s->e[s->n++];
		snprintf(e->name, sizeof(e->name), "%s", de->d_name);
		FUZZ_CHECK(fstatat(dirfd_net, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0, "stat");
		e->type = st.st_mode & S_IFMT;
		e->len = 0;
		if (S_ISREG(st.st_mode)) {
			int fd = openat(dirfd_net, e->name, O_RDONLY | O_CLOEXEC);

			FUZZ_CHECK(fd >= 0, "open %s", e->name);
			e->len = read(fd, e->content, sizeof(e->content));
			if (e->len == (ssize_t)sizeof(e->content))
				e->len = -1;
			close(fd);
		}
	}
	closedir(d);
}

static const struct entry *find(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].name, name) == 0)
			return &s->e[i];
	return NULL;
}

static bool same(const struct entry *a, const struct entry *b)
{
	return a->type == b->type && a->len == b->len &&
	       (a->len <= 0 || memcmp(a->content, b->content, (size_t)a->len) == 0);
}

static bool is_canonical_addr(const char *name)
{
	struct ipaddr ip;
	char t[IPADDR_STRLEN];

	return ipaddr_parse(name, &ip) == 0 && strcmp(ipaddr_fmt(&ip, t), name) == 0;
}

/* Entries the store may legitimately change: its lock, hints and temporaries. */
static bool store_owned(const char *name)
{
	return strcmp(name, "lock") == 0 || strncmp(name, "last_reserved_ip.", 17) == 0 ||
	       strncmp(name, IPAM_TMP_PREFIX, strlen(IPAM_TMP_PREFIX)) == 0 ||
	       strncmp(name, ".cnic-hint.", 11) == 0 || strcmp(name, ".cnic-boot") == 0;
}

/* Every entry of before that is not a regular reservation is still there, unchanged. */
static void check_untouched(const struct snapshot *before, const struct snapshot *after,
			    const char *step)
{
	for (size_t i = 0; i < before->n; i++) {
		const struct entry *b = &before->e[i], *a = find(after, b->name);

		if (store_owned(b->name) || (b->type == S_IFREG && is_canonical_addr(b->name)))
			continue;
		FUZZ_CHECK(a && same(a, b), "%s changed or removed %s", step, b->name);
	}
	{
		char buf[64];
		int fd = open(outside, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;

		if (fd >= 0)
			close(fd);
		FUZZ_CHECK(n == (ssize_t)strlen(outside_content) &&
				   memcmp(buf, outside_content, (size_t)n) == 0,
			   "%s modified the file outside the directory", step);
	}
}

/* ---- scan ---------------------------------------------------------------------- */

struct scan_ctx {
	const struct snapshot *snap;
	size_t seen;
};

static void trim(const char *s, size_t len, const char **ret, size_t *ret_len)
{
	size_t b = 0;

	while (b < len && strchr(" \t\r\n\v\f", s[b]) && s[b])
		b++;
	while (len > b && strchr(" \t\r\n\v\f", s[len - 1]) && s[len - 1])
		len--;
	*ret = s + b;
	*ret_len = len - b;
}

static int scan_cb(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	struct scan_ctx *c = arg;
	char name[IPADDR_STRLEN];
	const struct entry *e;

	ipaddr_fmt(&r->ip, name);
	e = find(c->snap, name);
	FUZZ_CHECK(e != NULL, "scan reported %s, which is not in the directory", name);
	c->seen++;
	if (r->content) {
		const char *t;
		size_t tl;

		FUZZ_CHECK(e->type == S_IFREG && e->len >= 0, "content read from a non-regular %s",
			   name);
		trim(e->content, (size_t)e->len, &t, &tl);
		FUZZ_CHECK(r->len == tl && memcmp(r->content, t, tl) == 0, "content of %s differs",
			   name);
	} else if (e->type == S_IFREG && e->len >= 0 && e->len <= 4096) {
		FUZZ_CHECK(0, "readable reservation %s reported without content", name);
	}
	return IPAM_SCAN_KEEP;
}

/* ---- the operations -------------------------------------------------------------- */

static struct ipam_range r4 = { 0 }, r6 = { 0 };
static struct ipam_range_set sets[2];

static void setup_ranges(void)
{
	struct cni_error *err = NULL;

	if (sets[0].n)
		return;
	FUZZ_CHECK(ipnet_parse("198.18.0.0/28", &r4.subnet) == 0, "subnet");
	FUZZ_CHECK(ipnet_parse("2001:db8::/124", &r6.subnet) == 0, "subnet");
	sets[0].v = xmalloc(sizeof(r4));
	sets[0].v[0] = r4;
	sets[0].n = 1;
	sets[1].v = xmalloc(sizeof(r6));
	sets[1].v[0] = r6;
	sets[1].n = 1;
	FUZZ_CHECK(ipam_range_set_canonicalize(&sets[0], &err) == 0 &&
			   ipam_range_set_canonicalize(&sets[1], &err) == 0,
		   "ranges");
}

static size_t count_owned(const struct snapshot *s, const char *content)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		const char *t;
		size_t tl;

		if (e->type != S_IFREG || e->len < 0 || !is_canonical_addr(e->name))
			continue;
		trim(e->content, (size_t)e->len, &t, &tl);
		if (tl == strlen(content) && memcmp(t, content, tl) == 0)
			n++;
	}
	return n;
}

/*
 * A last_reserved_ip.N that is not a regular file cannot be rewritten (it
 * is opened O_NOFOLLOW|O_NONBLOCK): ADD then fails cleanly, as the
 * reference's does when it cannot write the hint.
 */
static bool hint_planted(const struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->e[i].name, "last_reserved_ip.", 17) == 0 && s->e[i].type != S_IFREG)
			return true;
	return false;
}

/* (ID, IFNAME) holds an address, in a regular reservation file, inside one of the sets. */
static bool holds_in_sets(const struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		struct ipaddr ip;
		const char *t;
		size_t tl;

		if (e->type != S_IFREG || e->len < 0 || !is_canonical_addr(e->name))
			continue;
		trim(e->content, (size_t)e->len, &t, &tl);
		if (tl != strlen(OWNER) || memcmp(t, OWNER, tl) != 0)
			continue;
		FUZZ_CHECK(ipaddr_parse(e->name, &ip) == 0, "parse");
		if (ipam_range_set_contains(&sets[0], &ip) || ipam_range_set_contains(&sets[1], &ip))
			return true;
	}
	return false;
}

static void run_ops(struct ipam_store *st, const struct ipaddr *req, size_t n_req)
{
	const struct ipam_store_ops *ops = &ipam_disk_store_ops;
	struct snapshot *before = xcalloc(1, sizeof(*before)), *after = xcalloc(1, sizeof(*after));
	struct ipam_lease leases[2];
	struct cni_error *err = NULL;
	struct scan_ctx sc = { .snap = before };
	struct ipaddr hint;
	bool held;
	int r;

	take(before);
	FUZZ_CHECK(ops->scan(st, true, scan_cb, &sc, &err) == 0, "scan failed: %s", err->msg);
	if (ops->last_reserved(st, 0, &hint)) {
		const struct entry *e = find(before, "last_reserved_ip.0");

		FUZZ_CHECK(e && e->type == S_IFREG, "hint from a non-regular file");
	}

	/* ADD */
	take(before);
	held = holds_in_sets(before);
	r = ipam_alloc_add(ops, st, sets, 2, ID, IFNAME, req, n_req, leases, &err);
	/*
	 * The duplicate check of ADD trusts the store's per-attachment hint
	 * (docs/host-local.md): a reservation it does not list (planted here,
	 * as the reference would write it) may get the attachment a second
	 * address, which DEL then releases with the first (checked below).
	 * Our own ADD's reservation is always seen: the ADD repeated right
	 * after a successful one must fail.
	 */
	(void)held;
	take(after);
	check_untouched(before, after, "ADD");
	if (r == 0) {
		for (int i = 0; i < 2; i++) {
			char name[IPADDR_STRLEN];
			const struct entry *e;

			ipaddr_fmt(&leases[i].ip, name);
			FUZZ_CHECK(ipam_range_set_contains(&sets[i], &leases[i].ip),
				   "%s outside set %d", name, i);
			FUZZ_CHECK(!ipaddr_eq(&leases[i].ip, &leases[i].range->gateway),
				   "gateway %s handed out", name);
			FUZZ_CHECK(!find(before, name),
				   "%s was taken (an entry existed) but handed out", name);
			e = find(after, name);
			FUZZ_CHECK(e && e->type == S_IFREG && e->len == (ssize_t)strlen(OWNER) &&
					   memcmp(e->content, OWNER, strlen(OWNER)) == 0,
				   "reservation %s not written as expected", name);
			{
				struct stat stt;

				FUZZ_CHECK(fstatat(dirfd_net, name, &stt, AT_SYMLINK_NOFOLLOW) == 0 &&
						   (stt.st_mode & 07777) == 0600,
					   "reservation mode %o", stt.st_mode & 07777);
			}
		}
		FUZZ_CHECK(ipam_alloc_check(ops, st, sets, 2, ID, IFNAME, NULL, &err) == 0,
			   "CHECK after ADD failed: %s", err->msg);
		{
			struct snapshot *mid = xcalloc(1, sizeof(*mid));
			struct ipam_lease again[2];

			take(mid);
			FUZZ_CHECK(ipam_alloc_add(ops, st, sets, 2, ID, IFNAME, NULL, 0, again,
						  &err) < 0,
				   "a second ADD of the attachment got more addresses");
			FUZZ_CHECK(err->code == CNI_ERR_IPAM_DUPLICATE, "second ADD: code %u: %s",
				   err->code, err->msg);
			cni_error_free(err);
			err = NULL;
			take(after);
			FUZZ_CHECK(count_owned(after, OWNER) == count_owned(mid, OWNER),
				   "the refused second ADD reserved something");
			free(mid);
		}
	} else {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(err->code == CNI_ERR_INVALID_CONFIG ||
				   err->code == CNI_ERR_IPAM_EXHAUSTED ||
				   err->code == CNI_ERR_IPAM_UNAVAILABLE ||
				   err->code == CNI_ERR_IPAM_DUPLICATE || hint_planted(before),
			   "ADD failed with code %u: %s", err->code, err->msg);
		FUZZ_CHECK(count_owned(after, OWNER) == count_owned(before, OWNER),
			   "failed ADD left a reservation behind");
		cni_error_free(err);
		err = NULL;
		(void)ipam_alloc_check(ops, st, sets, 2, ID, IFNAME, NULL, &err);
	}
	cni_error_free(err);
	err = NULL;

	/* DEL */
	take(before);
	FUZZ_CHECK(ipam_alloc_release(ops, st, ID, IFNAME, &err) == 0, "DEL failed: %s", err->msg);
	take(after);
	check_untouched(before, after, "DEL");
	FUZZ_CHECK(count_owned(after, OWNER) == 0, "DEL left a reservation of the owner");

	/* GC: only "other/eth0" is valid. */
	{
		struct cni_attachment valid = { .container_id = "other", .ifname = IFNAME };

		take(before);
		FUZZ_CHECK(ipam_alloc_gc(ops, st, &valid, 1, &err) == 0, "GC failed: %s", err->msg);
		take(after);
		check_untouched(before, after, "GC");
		FUZZ_CHECK(count_owned(after, "other\r\neth0") == count_owned(before, "other\r\neth0"),
			   "GC released a valid attachment");
	}
	free(before);
	free(after);
}

static void probe_hint_name(void)
{
	struct ipam_store *st = NULL;
	struct cni_error *err = NULL;
	struct ipam_lease leases[2];
	struct dirent *de;
	DIR *d;

	if (ipam_store_open(base, NET, false, &st, &err) < 0 || ipam_store_lock(st, 0, &err) < 0)
		FUZZ_CHECK(0, "probe: %s", err->msg);
	FUZZ_CHECK(ipam_alloc_add(&ipam_disk_store_ops, st, sets, 2, ID, IFNAME, NULL, 0, leases,
				  &err) == 0,
		   "probe ADD: %s", err->msg);
	d = fdopendir(dup(dirfd_net));
	if (d)
		rewinddir(d);
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, ".cnic-hint.", 11) == 0)
			snprintf(hint_name, sizeof(hint_name), "%s", de->d_name + 11);
	if (d)
		closedir(d);
	FUZZ_CHECK(ipam_alloc_release(&ipam_disk_store_ops, st, ID, IFNAME, &err) == 0, "probe DEL");
	ipam_store_free(st);
	clear_hints();
	remove_all(dirfd_net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipam_store *st = NULL;
	struct cni_error *err = NULL;
	struct ipaddr req[4];
	size_t n_req = 0;
	int fd0;
	bool resolv = false;

	setup_once();
	setup_ranges();
	if (!*hint_name && !hint_name[1]) {
		hint_name[1] = 1; /* probed */
		probe_hint_name();
	}
	remove_all(dirfd_net);
	clear_hints();
	fd0 = fuzz_lowest_fd();

	for (size_t off = 0, planted = 0; off + 3 <= size && planted < 24; planted++) {
		enum kind k = (enum kind)(data[off] % K_COUNT);
		const char *name = names[data[off + 1] % ARRAY_SIZE(names)];
		size_t len = data[off + 2];

		off += 3;
		if (len > size - off)
			len = size - off;
		switch (k) {
		case K_FILE:
		case K_FILE2: {
			int fd = openat(dirfd_net, name,
					O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
						O_NONBLOCK,
					0600);

			if (fd >= 0) {
				/* Long contents: repeat the payload past the store's 4096-byte limit. */
				size_t reps = (k == K_FILE2 && len) ? 4200 / len + 1 : 1;

				for (size_t i = 0; i < reps; i++)
					if (write(fd, data + off, len) < 0)
						break;
				close(fd);
			}
			resolv |= strcmp(name, "resolv.conf") == 0;
			break;
		}
		case K_SYMLINK:
			(void)symlinkat(outside, dirfd_net, name);
			break;
		case K_FIFO:
			(void)mkfifoat(dirfd_net, name, 0600);
			break;
		case K_DIR:
			if (mkdirat(dirfd_net, name, 0755) == 0) {
				int sub = openat(dirfd_net, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				int fd = sub >= 0 ? openat(sub, "198.18.0.2",
							   O_WRONLY | O_CREAT | O_CLOEXEC, 0600)
						  : -1;

				if (fd >= 0) {
					(void)!write(fd, OWNER, strlen(OWNER));
					close(fd);
				}
				if (sub >= 0)
					close(sub);
			}
			break;
		case K_HINT:
			/* A hint for (ID, IFNAME) - any content, or a symlink / FIFO. */
			if (*hint_name) {
				char p[256];
				int fd;

				if (data[off - 2] & 4) { /* the old layout */
					snprintf(p, sizeof(p), "%s/.cnic", base);
					(void)mkdir(p, 0700);
					(void)mkdir(hint_dir, 0700);
					snprintf(p, sizeof(p), "%s/%s", hint_dir, hint_name);
				} else {
					snprintf(p, sizeof(p), "%s/" NET "/.cnic-hint.%s", base,
						 hint_name);
				}
				if (data[off - 2] % 4 == 1) {
					(void)symlink(outside, p);
				} else if (data[off - 2] % 4 == 2) {
					(void)mkfifo(p, 0600);
				} else if ((fd = open(p,
						      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
							      O_CLOEXEC | O_NONBLOCK,
						      0600)) >= 0) {
					(void)!write(fd, data + off, len);
					close(fd);
				}
			}
			break;
		case K_REQUEST:
			if (n_req < ARRAY_SIZE(req) && ipaddr_parse(name, &req[n_req]) == 0)
				n_req++;
			break;
		case K_COUNT:
			break;
		}
		off += len;
	}

	{
		char p[160];

		snprintf(p, sizeof(p), "%s", base);
		if (ipam_store_open(p, NET, false, &st, &err) < 0) {
			FUZZ_CHECK(0, "store open failed: %s", err->msg);
		}
	}
	FUZZ_CHECK(st != NULL, "store missing");
	if (ipam_store_lock(st, 0, &err) < 0) {
		/* Only a planted non-file "lock" can stop it (nobody else holds the lock). */
		struct stat s;

		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(fstatat(dirfd_net, "lock", &s, AT_SYMLINK_NOFOLLOW) == 0 &&
				   !S_ISREG(s.st_mode),
			   "lock failed on a regular lock file: %s", err->msg);
		cni_error_free(err);
	} else {
		run_ops(st, req, n_req);
	}
	ipam_store_free(st);

	if (resolv) {
		struct cni_dns dns = { 0 };
		char p[200];

		snprintf(p, sizeof(p), "%s/" NET "/resolv.conf", base);
		if (ipam_parse_resolv_conf(p, &dns, &err) < 0) {
			FUZZ_CHECK_ERROR(err);
			cni_error_free(err);
		}
		for (size_t i = 0; i < dns.nameservers.n; i++)
			FUZZ_CHECK(*dns.nameservers.v[i], "empty nameserver");
		cni_dns_free(&dns);
	}
	FUZZ_CHECK(fuzz_lowest_fd() == fd0, "fd leaked");
	return 0;
}
