/* SPDX-License-Identifier: Apache-2.0 */
/* The host-local disk store on a scratch directory: format, modes, hostile entries, lock. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ipam/store.h"
#include "../../pkg/cleanup.h"

static char base[64];

static int setup(void **state)
{
	umask(022);
	snprintf(base, sizeof(base), "/tmp/cnic-ipam-store.XXXXXX");
	assert_non_null(mkdtemp(base));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static char *path(const char *rel)
{
	return xasprintf("%s/%s", base, rel);
}

/* The whole content of a file (NUL-terminated), its size in *len. */
static char *slurp(const char *rel, size_t *len)
{
	cleanup_free char *p = path(rel);
	char *buf = xcalloc(1, 4096);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, 4095);
	assert_true(n >= 0);
	close(fd);
	*len = (size_t)n;
	return buf;
}

static unsigned int mode_of(const char *rel)
{
	cleanup_free char *p = path(rel);
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

static bool exists(const char *rel)
{
	cleanup_free char *p = path(rel);
	struct stat st;

	return lstat(p, &st) == 0;
}

static void put_file(const char *rel, const char *content)
{
	cleanup_free char *p = path(rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static struct ipam_store *open_net(const char *net)
{
	cleanup_free char *data = path("data");
	struct ipam_store *s = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(ipam_store_open(data, net, true, &s, &err), 0);
	assert_null(err);
	assert_non_null(s);
	return s;
}

static bool reserve(struct ipam_store *s, const char *ip, const char *id, const char *ifname)
{
	struct ipaddr a;
	bool ok = false;
	struct cni_error *err = NULL;

	assert_int_equal(ipaddr_parse(ip, &a), 0);
	assert_int_equal(ipam_disk_store_ops.reserve(s, &a, id, ifname, &ok, &err), 0);
	assert_null(err);
	return ok;
}

static void test_open_creates_dirs(void **state)
{
	cleanup_free char *deep = path("a/b/c");
	struct ipam_store *s = NULL;
	struct cni_error *err = NULL;

	/* without create: a missing directory is "nothing here" and nothing is made */
	assert_int_equal(ipam_store_open(deep, "net", false, &s, &err), 0);
	assert_null(s);
	assert_false(exists("a"));

	assert_int_equal(ipam_store_open(deep, "net", true, &s, &err), 0);
	assert_non_null(s);
	assert_int_equal(mode_of("a"), 0755);
	assert_int_equal(mode_of("a/b/c"), 0755);
	assert_int_equal(mode_of("a/b/c/net"), 0755);
	assert_non_null(strstr(ipam_store_path(s), "a/b/c/net"));
	ipam_store_free(s);

	/* unsafe names never reach the file system */
	assert_int_equal(ipam_store_open(deep, "..", true, &s, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	cni_error_freep(&err);
	assert_int_equal(ipam_store_open(deep, "x/y", true, &s, &err), -1);
	cni_error_freep(&err);
}

static void test_reserve_format(void **state)
{
	struct ipam_store *s = open_net("net");
	struct cni_error *err = NULL;
	struct ipaddr a, got;
	size_t len;
	char *c;

	assert_int_equal(ipam_store_lock(s, 1000, &err), 0);
	assert_true(exists("data/net/lock"));
	assert_int_equal(mode_of("data/net/lock"), 0750 & ~022);
	c = slurp("data/net/lock", &len);
	assert_int_equal(len, 0);
	free(c);

	assert_true(reserve(s, "198.18.0.5", "cid-1", "eth0"));
	c = slurp("data/net/198.18.0.5", &len);
	assert_int_equal(len, 11);
	assert_memory_equal(c, "cid-1\r\neth0", 11);
	free(c);
	assert_int_equal(mode_of("data/net/198.18.0.5"), 0600);
	/* taken: no error, not reserved, content untouched */
	assert_false(reserve(s, "198.18.0.5", "cid-2", "eth0"));
	c = slurp("data/net/198.18.0.5", &len);
	assert_memory_equal(c, "cid-1\r\neth0", 11);
	free(c);

	/* IPv6 names are Go's canonical text */
	assert_true(reserve(s, "2001:DB8:0:0::0:a", "cid-1", "eth0"));
	assert_true(exists("data/net/2001:db8::a"));

	/* last_reserved_ip.N: the address, no newline, 0600 */
	assert_false(ipam_disk_store_ops.last_reserved(s, 0, &got));
	assert_int_equal(ipaddr_parse("198.18.0.5", &a), 0);
	assert_int_equal(ipam_disk_store_ops.set_last_reserved(s, 0, &a, &err), 0);
	c = slurp("data/net/last_reserved_ip.0", &len);
	assert_int_equal(len, strlen("198.18.0.5"));
	assert_memory_equal(c, "198.18.0.5", len);
	free(c);
	assert_int_equal(mode_of("data/net/last_reserved_ip.0"), 0600);
	assert_true(ipam_disk_store_ops.last_reserved(s, 0, &got));
	assert_true(ipaddr_eq(&got, &a));
	/* read tolerantly: a newline from another writer is fine, garbage is no hint */
	put_file("data/net/last_reserved_ip.1", "2001:db8::7\n");
	assert_true(ipam_disk_store_ops.last_reserved(s, 1, &got));
	assert_int_equal(got.family, AF_INET6);
	put_file("data/net/last_reserved_ip.1", "bogus");
	assert_false(ipam_disk_store_ops.last_reserved(s, 1, &got));
	/* rewritten in place: a longer old text is cut to the new length */
	assert_int_equal(ipaddr_parse("198.18.0.100", &a), 0);
	assert_int_equal(ipam_disk_store_ops.set_last_reserved(s, 0, &a, &err), 0);
	assert_int_equal(ipaddr_parse("198.18.0.6", &a), 0);
	assert_int_equal(ipam_disk_store_ops.set_last_reserved(s, 0, &a, &err), 0);
	assert_null(err);
	c = slurp("data/net/last_reserved_ip.0", &len);
	assert_int_equal(len, strlen("198.18.0.6"));
	assert_memory_equal(c, "198.18.0.6", len);
	free(c);
	/* a link planted in its place is neither followed nor written through */
	{
		cleanup_free char *target = path("target");
		cleanup_free char *link = path("data/net/last_reserved_ip.3");

		put_file("target", "keep");
		assert_int_equal(symlink(target, link), 0);
		assert_int_equal(ipam_disk_store_ops.set_last_reserved(s, 3, &a, &err), -1);
		cni_error_freep(&err);
		assert_false(ipam_disk_store_ops.last_reserved(s, 3, &got));
		c = slurp("target", &len);
		assert_memory_equal(c, "keep", 4);
		free(c);
	}

	/* release */
	assert_int_equal(ipaddr_parse("198.18.0.5", &a), 0);
	assert_int_equal(ipam_disk_store_ops.release(s, &a, &err), 0);
	assert_false(exists("data/net/198.18.0.5"));
	assert_int_equal(ipam_disk_store_ops.release(s, &a, &err), 0); /* already gone: fine */
	assert_null(err);
	ipam_store_free(s);
}

struct seen {
	char names[16][IPADDR_STRLEN];
	bool has_content[16];
	size_t n;
};

static int record(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	ipaddr_fmt(&r->ip, s->names[s->n]);
	s->has_content[s->n] = r->content != NULL;
	s->n++;
	return IPAM_SCAN_KEEP;
}

static ssize_t seen_idx(const struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

static void test_scan_hostile_entries(void **state)
{
	struct ipam_store *s = open_net("net");
	cleanup_free char *target = path("outside");
	cleanup_free char *link = path("data/net/198.18.0.9");
	cleanup_free char *fifo = path("data/net/198.18.0.10");
	cleanup_free char *sub = path("data/net/198.18.0.8");
	struct cni_error *err = NULL;
	struct seen seen = { 0 };
	size_t len;
	char *c;

	put_file("data/net/198.18.0.7", "  a\r\neth0\n"); /* trimmed as the reference */
	put_file("data/net/foo", "a\r\neth0");
	put_file("data/net/2001:DB8::1", "a\r\neth0"); /* not the canonical name */
	put_file("data/net/last_reserved_ip.0", "198.18.0.7");
	put_file("data/net/" IPAM_TMP_PREFIX "198.18.0.11", "a\r\neth0");
	put_file("outside", "a\r\neth0");
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(sub, 0755), 0);

	/* unlocked scan: the temporary may be someone's live one, left alone */
	alarm(10); /* a FIFO opened blocking would hang here */
	assert_int_equal(ipam_disk_store_ops.scan(s, true, record, &seen, &err), 0);
	alarm(0);
	assert_true(exists("data/net/" IPAM_TMP_PREFIX "198.18.0.11"));
	assert_int_equal(seen.n, 4);
	assert_true(seen_idx(&seen, "198.18.0.7") >= 0);
	assert_true(seen.has_content[seen_idx(&seen, "198.18.0.7")]);
	/* names count as taken, but nothing behind a link / FIFO / directory is read */
	assert_false(seen.has_content[seen_idx(&seen, "198.18.0.8")]);
	assert_false(seen.has_content[seen_idx(&seen, "198.18.0.9")]);
	assert_false(seen.has_content[seen_idx(&seen, "198.18.0.10")]);

	/* DEL: the regular file goes; the link, its target, the FIFO stay */
	assert_int_equal(ipam_store_lock(s, 1000, &err), 0);
	alarm(10);
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "a", "eth0", &err), 0);
	alarm(0);
	assert_null(err);
	assert_false(exists("data/net/198.18.0.7"));
	assert_true(exists("data/net/198.18.0.9"));
	assert_true(exists("data/net/198.18.0.10"));
	assert_true(exists("data/net/foo"));
	assert_true(exists("data/net/2001:DB8::1"));
	assert_true(exists("data/net/last_reserved_ip.0"));
	c = slurp("outside", &len);
	assert_memory_equal(c, "a\r\neth0", len);
	free(c);
	/* the locked scan removed the stale temporary */
	assert_false(exists("data/net/" IPAM_TMP_PREFIX "198.18.0.11"));

	/* reserving over a planted link neither follows nor replaces it */
	assert_false(reserve(s, "198.18.0.9", "b", "eth0"));
	c = slurp("outside", &len);
	assert_memory_equal(c, "a\r\neth0", len);
	free(c);
	ipam_store_free(s);
}

static void test_network_dir_symlink(void **state)
{
	cleanup_free char *data = path("data");
	cleanup_free char *elsewhere = path("elsewhere");
	cleanup_free char *link = path("data/net");
	struct ipam_store *s = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(mkdir(elsewhere, 0755), 0);
	assert_int_equal(symlink(elsewhere, link), 0);
	assert_int_equal(ipam_store_open(data, "net", true, &s, &err), -1);
	assert_null(s);
	assert_non_null(strstr(err->msg, "symbolic link"));
	cni_error_freep(&err);
	assert_int_equal(ipam_store_open(data, "net", false, &s, &err), -1);
	cni_error_freep(&err);
	assert_false(exists("elsewhere/lock"));

	/* a regular file in its place is refused too */
	put_file("data/net2", "x");
	assert_int_equal(ipam_store_open(data, "net2", true, &s, &err), -1);
	cni_error_freep(&err);
}

static void test_lock_file_fifo(void **state)
{
	cleanup_free char *data = path("data");
	cleanup_free char *netdir = path("data/net");
	cleanup_free char *fifo = path("data/net/lock");
	struct ipam_store *s = NULL;
	struct cni_error *err = NULL;

	assert_int_equal(mkdir(data, 0755), 0);
	assert_int_equal(mkdir(netdir, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(ipam_store_open(data, "net", true, &s, &err), 0);
	alarm(10);
	assert_int_equal(ipam_store_lock(s, 100, &err), -1);
	alarm(0);
	assert_non_null(strstr(err->msg, "not a regular file"));
	cni_error_freep(&err);
	ipam_store_free(s);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_lock_timeout(void **state)
{
	struct ipam_store *s = open_net("net"), *s2 = open_net("net");
	cleanup_free char *lock = path("data/net/lock");
	struct cni_error *err = NULL;
	int ready[2], release[2];
	uint64_t t0, dt;
	pid_t pid;
	char b;

	assert_int_equal(ipam_store_lock(s, 100, &err), 0); /* creates the lock file */
	ipam_store_free(s);

	assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(release, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Hold it as the reference does: flock on our own open of the lock file. */
		int fd = open(lock, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(release[0], &b, 1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &b, 1), 1);

	t0 = ms_now();
	assert_int_equal(ipam_store_lock(s2, 200, &err), -1);
	dt = ms_now() - t0;
	assert_int_equal(err->code, CNI_ERR_TRY_AGAIN);
	cni_error_freep(&err);
	assert_true(dt >= 190);
	assert_true(dt < 2000);

	/* released while we wait: we get it promptly */
	(void)!write(release[1], "x", 1);
	t0 = ms_now();
	assert_int_equal(ipam_store_lock(s2, 5000, &err), 0);
	assert_true(ms_now() - t0 < 1000);
	/* and a second store (another process, as far as flock is concerned) now waits */
	s = open_net("net");
	assert_int_equal(ipam_store_lock(s, 0, &err), -1);
	assert_int_equal(err->code, CNI_ERR_TRY_AGAIN);
	cni_error_freep(&err);
	ipam_store_free(s);
	ipam_store_free(s2);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	close(ready[0]);
	close(release[1]);
}

static void test_two_stores_one_address(void **state)
{
	struct ipam_store *a = open_net("net"), *b = open_net("net");

	assert_true(reserve(a, "198.18.1.1", "x", "eth0"));
	assert_false(reserve(b, "198.18.1.1", "y", "eth0"));
	assert_true(reserve(b, "198.18.1.2", "y", "eth0"));
	ipam_store_free(a);
	ipam_store_free(b);
}

static void test_named_tmp_fallback(void **state)
{
	struct ipam_store *s = open_net("net");
	size_t len;
	char *c;

	ipam_store_disable_tmpfile(s);
	/* a stale temporary of the same name from a crash is replaced */
	put_file("data/net/" IPAM_TMP_PREFIX "198.18.3.3", "stale");
	assert_true(reserve(s, "198.18.3.3", "cid", "eth1"));
	c = slurp("data/net/198.18.3.3", &len);
	assert_int_equal(len, 9);
	assert_memory_equal(c, "cid\r\neth1", 9);
	free(c);
	assert_int_equal(mode_of("data/net/198.18.3.3"), 0600);
	assert_false(exists("data/net/" IPAM_TMP_PREFIX "198.18.3.3"));
	/* taken: the temporary is gone as well, the reservation untouched */
	assert_false(reserve(s, "198.18.3.3", "other", "eth0"));
	assert_false(exists("data/net/" IPAM_TMP_PREFIX "198.18.3.3"));
	c = slurp("data/net/198.18.3.3", &len);
	assert_memory_equal(c, "cid\r\neth1", 9);
	free(c);
	ipam_store_free(s);
}

static void test_alloc_on_disk(void **state)
{
	struct ipam_store *s = open_net("net");
	struct ipam_range_set set = { .v = xcalloc(1, sizeof(struct ipam_range)), .n = 1 };
	struct ipam_lease lease;
	struct cni_error *err = NULL;
	char ip[IPADDR_STRLEN];
	size_t len;
	char *c;

	assert_int_equal(ipnet_parse("198.18.2.0/24", &set.v[0].subnet), 0);
	assert_int_equal(ipam_range_set_canonicalize(&set, &err), 0);
	assert_int_equal(ipam_store_lock(s, 1000, &err), 0);
	put_file("data/net/198.18.2.2", "other\r\neth0");
	assert_int_equal(ipam_alloc_add(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", NULL, 0,
					&lease, &err),
			 0);
	assert_string_equal(ipaddr_fmt(&lease.ip, ip), "198.18.2.3");
	c = slurp("data/net/last_reserved_ip.0", &len);
	assert_memory_equal(c, "198.18.2.3", len);
	free(c);
	assert_int_equal(ipam_alloc_add(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", NULL, 0,
					&lease, &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_DUPLICATE);
	cni_error_freep(&err);
	assert_int_equal(ipam_alloc_gc(&ipam_disk_store_ops, s,
				       &(struct cni_attachment){ .container_id = "me",
								 .ifname = "eth0" },
				       1, &err),
			 0);
	assert_false(exists("data/net/198.18.2.2"));
	assert_true(exists("data/net/198.18.2.3"));
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

/* The name of the only hint file (data/net/.cnic-hint.*), or NULL when there is none. */
static char *hint_file(void)
{
	cleanup_free char *p = path("data/net");
	DIR *d = opendir(p);
	struct dirent *e;
	char *found = NULL;

	if (!d)
		return NULL;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".cnic-hint.", 11) == 0) {
			assert_null(found); /* exactly one */
			found = xasprintf("data/net/%s", e->d_name);
		}
	closedir(d);
	return found;
}

/* The hint of (id, ifname) among several, by content. */
static char *hint_file_of(const char *id, const char *ifname)
{
	cleanup_free char *p = path("data/net"), *want = xasprintf("%s\r\n%s\n", id, ifname);
	DIR *d = opendir(p);
	struct dirent *e;
	char *found = NULL;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".cnic-hint.", 11) == 0) {
			cleanup_free char *name = xasprintf("data/net/%s", e->d_name);
			size_t len;
			cleanup_free char *c = slurp(name, &len);

			if (len > strlen(want) && memcmp(c, want, strlen(want)) == 0)
				found = xstrdup(name);
		}
	closedir(d);
	assert_non_null(found);
	return found;
}

/* This boot's id, as hints record it. */
static const char *boot_now(void)
{
	static char id[37];
	FILE *f;

	if (!id[0]) {
		f = fopen("/proc/sys/kernel/random/boot_id", "r");
		assert_non_null(f);
		assert_non_null(fgets(id, sizeof(id), f));
		fclose(f);
		assert_int_equal(strlen(id), 36);
	}
	return id;
}

/* A hint's text: "<id>\r\n<ifname>", this boot, then the address lines. */
static char *hint_text(const char *owner, const char *ips)
{
	return xasprintf("%s\nboot=%s\n%s", owner, boot_now(), ips);
}

/* Directory passes made through counting_ops: ADD should make none when a probe finds room. */
static unsigned int n_scans;

static int counting_scan(void *store, bool read_content, ipam_scan_fn fn, void *arg,
			 struct cni_error **err)
{
	n_scans++;
	return ipam_disk_store_ops.scan(store, read_content, fn, arg, err);
}

static int add_one(struct ipam_store *s, const struct ipam_range_set *set, const char *id,
		   const char *ifname, char ip[IPADDR_STRLEN], int *code)
{
	struct ipam_store_ops counting_ops = ipam_disk_store_ops;
	struct ipam_lease lease;
	struct cni_error *err = NULL;
	int r;

	counting_ops.scan = counting_scan;
	r = ipam_alloc_add(&counting_ops, s, set, 1, id, ifname, NULL, 0, &lease, &err);

	*code = err ? err->code : 0;
	cni_error_freep(&err);
	if (r == 0)
		ipaddr_fmt(&lease.ip, ip);
	return r;
}

static void hint_set_up(struct ipam_store **s, struct ipam_range_set *set)
{
	struct cni_error *err = NULL;

	*s = open_net("net");
	set->v = xcalloc(1, sizeof(struct ipam_range));
	set->n = 1;
	assert_int_equal(ipnet_parse("198.18.2.0/24", &set->v[0].subnet), 0);
	assert_int_equal(ipam_range_set_canonicalize(set, &err), 0);
	assert_int_equal(ipam_store_lock(*s, 1000, &err), 0);
}

static void test_hint_add_dup_del(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	char ip[IPADDR_STRLEN];
	cleanup_free char *h = NULL, *h2 = NULL;
	size_t len;
	char *c;
	int code;

	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, " me ", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.2");
	h = hint_file();
	assert_non_null(h);
	assert_false(exists("data/.cnic")); /* the old layout is never made */
	assert_int_equal(strlen(h), strlen("data/net/.cnic-hint.") + 16);
	assert_int_equal(mode_of(h), 0600);
	/* the boot marker comes with the first hint, and says this boot's reclaim is done */
	{
		cleanup_free char *want = xasprintf("boot=%s", boot_now());

		c = slurp("data/net/.cnic-boot", &len);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(c, want, len);
		free(c);
	}
	assert_int_equal(mode_of("data/net/.cnic-boot"), 0600);
	c = slurp(h, &len);
	{
		cleanup_free char *want = hint_text("me\r\neth0", "198.18.2.2");

		assert_int_equal(len, strlen(want));
		assert_memory_equal(c, want, len);
	}
	free(c);
	/* the duplicate is found through the hint */
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), -1);
	assert_int_equal(code, CNI_ERR_IPAM_DUPLICATE);
	/* another interface of the same container is not a duplicate; its own hint */
	assert_int_equal(add_one(s, &set, "me", "eth1", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.3");
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "me", "eth1", NULL), 0);
	h2 = hint_file();
	assert_string_equal(h2, h);
	assert_true(exists("data/net/.cnic-boot")); /* eth0's hint still needs it */
	/* DEL releases the reservation and removes the hint */
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "me", "eth0", NULL), 0);
	assert_false(exists("data/net/198.18.2.2"));
	assert_false(exists(h));
	assert_false(exists("data/net/.cnic-boot")); /* gone with the last hint */
	assert_false(exists("data/.cnic"));
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

static void test_hint_stale_missing_garbage(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	char ip[IPADDR_STRLEN];
	cleanup_free char *h = NULL;
	size_t len;
	char *c;
	int code;

	hint_set_up(&s, &set);
	ipam_store_disable_tmpfile(s); /* the named-temporary path writes hints too */
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), 0);
	h = hint_file();
	assert_non_null(h);
	/* stale: the listed address now belongs to someone else (released, reused) */
	put_file("data/net/198.18.2.2", "other\r\neth0");
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.3");
	c = slurp("data/net/198.18.2.2", &len);
	assert_memory_equal(c, "other\r\neth0", len);
	free(c);
	c = slurp(h, &len);
	{
		cleanup_free char *want = hint_text("me\r\neth0", "198.18.2.3");

		assert_int_equal(len, strlen(want));
		assert_memory_equal(c, want, len); /* the stale address dropped */
	}
	free(c);
	/* garbage hint: ignored (a missed duplicate, never an error) */
	put_file(h, "\x01garbage\n\n198.18.2.3");
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.4");
	/* missing hint: allocation proceeds */
	{
		cleanup_free char *p = path(h);

		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.5");
	/* DEL still finds every reservation by content */
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "me", "eth0", NULL), 0);
	assert_false(exists("data/net/198.18.2.3"));
	assert_false(exists("data/net/198.18.2.4"));
	assert_false(exists("data/net/198.18.2.5"));
	assert_true(exists("data/net/198.18.2.2"));
	assert_false(exists(h));
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

static void test_hint_gc_and_hostile_dir(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	struct cni_attachment keep = { .container_id = "a", .ifname = "eth0" };
	char ip[IPADDR_STRLEN];
	cleanup_free char *h = NULL, *dirp = NULL;
	int code;

	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "a", "eth0", ip, &code), 0);
	h = hint_file();
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), 0);
	/* b's reservation taken over by a (e.g. by the reference): b's hint is stale */
	put_file("data/net/198.18.2.3", "a\r\neth0");
	put_file("data/net/.cnic-tmp.hint.0000000000000000", "left by a crash");
	assert_int_equal(ipam_alloc_gc(&ipam_disk_store_ops, s, &keep, 1, NULL), 0);
	/* only a's hint is left, the temporary is gone */
	{
		cleanup_free char *only = hint_file();

		assert_string_equal(only, h);
	}
	assert_false(exists("data/net/.cnic-tmp.hint.0000000000000000"));
	assert_true(exists("data/net/.cnic-boot")); /* a's hint is left */
	/* a gone too: the last hint takes the marker with it */
	assert_int_equal(ipam_alloc_gc(&ipam_disk_store_ops, s, NULL, 0, NULL), 0);
	assert_null(hint_file());
	assert_false(exists("data/net/.cnic-boot"));
	ipam_range_set_free(&set);
	ipam_store_free(s);

	/* an old-layout hint directory that is a symlink is never followed */
	dirp = path("data/elsewhere");
	assert_int_equal(mkdir(dirp, 0700), 0);
	put_file("data/elsewhere/0123456789abcdef", "x\r\neth0\n198.18.2.9");
	{
		cleanup_free char *d = path("data/.cnic"), *lnk = path("data/.cnic/net");

		assert_int_equal(mkdir(d, 0700), 0);
		assert_int_equal(symlink(dirp, lnk), 0);
	}
	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "c", "eth0", ip, &code), 0);
	assert_true(exists("data/elsewhere/0123456789abcdef"));
	assert_false(exists("data/net/.cnic-hint.0123456789abcdef"));
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

/* Rewrite what ADDs wrote as if in another boot: each hint's boot line and the marker. */
static void fake_reboot(const char *net)
{
	cleanup_free char *cmd =
		xasprintf("cd '%s/data/%s' && for h in .cnic-hint.*; do [ -f \"$h\" ] && sed -i "
			  "'s/^boot=.*/boot=00000000-0000-4000-8000-000000000000/' \"$h\"; done; "
			  "printf boot=00000000-0000-4000-8000-000000000000 > .cnic-boot",
			  base, net);

	assert_int_equal(system(cmd), 0);
}

static void test_reclaim_after_reboot(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	char ip[IPADDR_STRLEN];
	int code;

	hint_set_up(&s, &set);
	/* three attachments, and one reservation of the reference's (no hint) */
	put_file("data/net/198.18.2.5", "ref\r\neth0");
	assert_int_equal(add_one(s, &set, "a", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.2");
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), 0);
	assert_int_equal(add_one(s, &set, "c", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.4");
	/* c's reservation was taken over since (the reference, a manual edit): not c's any more */
	put_file("data/net/198.18.2.4", "other\r\neth0");
	ipam_store_free(s);
	ipam_range_set_free(&set);

	fake_reboot("net");
	hint_set_up(&s, &set);
	/* b again: its old address back, not a duplicate; a's released, other's and ref's kept */
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.3");
	assert_false(exists("data/net/198.18.2.2"));
	assert_true(exists("data/net/198.18.2.4"));
	assert_true(exists("data/net/198.18.2.5"));
	{
		size_t len;
		cleanup_free char *m = slurp("data/net/.cnic-boot", &len);

		assert_int_equal(len, 41);
		assert_memory_equal(m, "boot=", 5);
		assert_memory_equal(m + 5, boot_now(), 36);
	}
	/* the same attachment again, now in this boot: a duplicate as always */
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), -1);
	assert_int_equal(code, CNI_ERR_IPAM_DUPLICATE);
	ipam_store_free(s);
	ipam_range_set_free(&set);

	/* turned off: another reboot reclaims nothing, and b is a duplicate */
	fake_reboot("net");
	hint_set_up(&s, &set);
	ipam_store_set_reclaim(s, false);
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), -1);
	assert_int_equal(code, CNI_ERR_IPAM_DUPLICATE);
	assert_int_equal(add_one(s, &set, "d", "eth0", ip, &code), 0);
	assert_true(exists("data/net/198.18.2.3"));
	ipam_store_free(s);
	ipam_range_set_free(&set);
}

/*
 * Hints of the old layout (<data>/.cnic/<net>/<hex>, marker .cnic/.boot.<net>) still do the
 * duplicate check: moved into the network directory on first use, the old directories removed.
 */
static void test_hint_old_layout(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	char ip[IPADDR_STRLEN];
	cleanup_free char *h = NULL, *mv = NULL, *moved = NULL, *gone = NULL;
	int code;

	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "old", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.2");
	assert_int_equal(add_one(s, &set, "keep", "eth0", ip, &code), 0);
	ipam_store_free(s);
	ipam_range_set_free(&set);
	/* rewrite old's hint and the marker as an earlier version kept them; keep's stays */
	h = hint_file_of("old", "eth0");
	mv = xasprintf("cd '%s/data' && mkdir -m 0700 .cnic .cnic/net && mv '%s' .cnic/net/%s && "
		       "printf %s > .cnic/.boot.net && rm net/.cnic-boot && "
		       ": > .cnic/net/.tmp.0123456789abcdef",
		       base, h + strlen("data/"), h + strlen("data/net/.cnic-hint."), boot_now());
	assert_int_equal(system(mv), 0);

	hint_set_up(&s, &set);
	/* old's hint is honoured: a duplicate */
	assert_int_equal(add_one(s, &set, "old", "eth0", ip, &code), -1);
	assert_int_equal(code, CNI_ERR_IPAM_DUPLICATE);
	assert_false(exists("data/.cnic")); /* moved in, old directories gone */
	assert_true(exists(h));
	assert_true(exists("data/net/.cnic-boot"));
	/* DEL of both: nothing of cnic's is left */
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "old", "eth0", NULL), 0);
	assert_true(exists("data/net/.cnic-boot"));
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "keep", "eth0", NULL), 0);
	assert_false(exists("data/net/.cnic-boot"));
	assert_null(hint_file());
	ipam_store_free(s);
	ipam_range_set_free(&set);

	/* the old layout found by a DEL: its hint counts before the marker goes */
	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "a", "eth0", ip, &code), 0);
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), 0);
	ipam_store_free(s);
	ipam_range_set_free(&set);
	moved = hint_file_of("b", "eth0");
	free(mv);
	mv = xasprintf("cd '%s/data' && mkdir -m 0700 .cnic .cnic/net && mv '%s' .cnic/net/%s",
		       base, moved + strlen("data/"), moved + strlen("data/net/.cnic-hint."));
	assert_int_equal(system(mv), 0);
	hint_set_up(&s, &set);
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "a", "eth0", NULL), 0);
	assert_true(exists(moved));
	assert_true(exists("data/net/.cnic-boot"));
	assert_false(exists("data/.cnic"));
	assert_int_equal(ipam_alloc_release(&ipam_disk_store_ops, s, "b", "eth0", NULL), 0);
	ipam_store_free(s);
	ipam_range_set_free(&set);

	/* an old-layout hint of an earlier boot, under a marker naming this boot: reclaimed */
	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "gone", "eth0", ip, &code), 0);
	gone = xasprintf("data/net/%s", ip);
	ipam_store_free(s);
	ipam_range_set_free(&set);
	free(moved);
	moved = hint_file_of("gone", "eth0");
	free(mv);
	mv = xasprintf("cd '%s/data' && mkdir -m 0700 .cnic .cnic/net && "
		       "sed 's/^boot=.*/boot=00000000-0000-4000-8000-000000000000/' '%s' "
		       "> .cnic/net/%s && rm '%s'",
		       base, moved + strlen("data/"), moved + strlen("data/net/.cnic-hint."),
		       moved + strlen("data/"));
	assert_int_equal(system(mv), 0);
	assert_true(exists("data/net/.cnic-boot")); /* still current: it names this boot */
	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "new", "eth0", ip, &code), 0);
	assert_false(exists(gone));
	assert_false(exists(moved));
	ipam_store_free(s);
	ipam_range_set_free(&set);
}

/* CHECK reads only prevResult's own reservations when they answer it; the scan otherwise. */
static void test_check_by_prev(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	struct cni_result *prev = cni_result_new();
	struct cni_error *err = NULL;
	char ip[IPADDR_STRLEN];
	int code;

	hint_set_up(&s, &set);
	assert_int_equal(add_one(s, &set, "me", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.2");
	assert_int_equal(ipnet_parse("198.18.2.2/24", &cni_result_add_ip(prev)->address), 0);
	assert_int_equal(ipam_alloc_check(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", prev, &err),
			 0);
	/* another interface of the same container: not its reservation */
	assert_int_equal(ipam_alloc_check(&ipam_disk_store_ops, s, &set, 1, "me", "eth1", prev, &err),
			 -1);
	assert_non_null(strstr(err->msg, "Failed to find address"));
	cni_error_freep(&err);
	/* taken over by someone else, while (me, eth0) holds another: the scan's verdict */
	put_file("data/net/198.18.2.2", "other\r\neth0");
	put_file("data/net/198.18.2.7", "me\r\neth0");
	assert_int_equal(ipam_alloc_check(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", prev, &err),
			 -1);
	assert_non_null(strstr(err->msg, "198.18.2.2 of prevResult is not reserved"));
	cni_error_freep(&err);
	/* a legacy id-only reservation still counts when no exact one exists */
	{
		cleanup_free char *p7 = path("data/net/198.18.2.7");

		assert_int_equal(unlink(p7), 0);
	}
	put_file("data/net/198.18.2.2", "me");
	assert_int_equal(ipam_alloc_check(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", prev, &err),
			 0);
	/* released: nothing left */
	{
		cleanup_free char *p2 = path("data/net/198.18.2.2");

		assert_int_equal(unlink(p2), 0);
	}
	assert_int_equal(ipam_alloc_check(&ipam_disk_store_ops, s, &set, 1, "me", "eth0", prev, &err),
			 -1);
	cni_error_freep(&err);
	cni_result_free(prev);
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

/* ADD tries the next candidates before it reads the directory, then falls back to the scan. */
static void test_probe_then_scan(void **state)
{
	struct ipam_store *s;
	struct ipam_range_set set;
	char ip[IPADDR_STRLEN], name[64];
	int code;

	hint_set_up(&s, &set);
	/* a few taken after the start: probed past, no scan needed */
	put_file("data/net/198.18.2.2", "x\r\neth0");
	put_file("data/net/198.18.2.3", "y\r\neth0");
	n_scans = 0;
	assert_int_equal(add_one(s, &set, "a", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.4");
	assert_int_equal(n_scans, 0);
	/* more taken in a row than the probes: the scan finds the first free one */
	for (int i = 5; i <= 40; i++) {
		snprintf(name, sizeof(name), "data/net/198.18.2.%d", i);
		put_file(name, "z\r\neth0");
	}
	assert_int_equal(add_one(s, &set, "b", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.41");
	assert_int_equal(n_scans, 1);
	/* a full range still ends in "exhausted", not in "reserved without the lock" */
	for (int i = 42; i <= 254; i++) {
		snprintf(name, sizeof(name), "data/net/198.18.2.%d", i);
		put_file(name, "z\r\neth0");
	}
	assert_int_equal(add_one(s, &set, "c", "eth0", ip, &code), -1);
	assert_int_equal(code, CNI_ERR_IPAM_EXHAUSTED);
	/* wrapping past the end: the round robin restarts at the range start */
	{
		cleanup_free char *p3 = path("data/net/198.18.2.3");

		assert_int_equal(unlink(p3), 0);
	}
	assert_int_equal(add_one(s, &set, "d", "eth0", ip, &code), 0);
	assert_string_equal(ip, "198.18.2.3");
	ipam_range_set_free(&set);
	ipam_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_hostile_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network_dir_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_file_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_stores_one_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_tmp_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_on_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hint_add_dup_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hint_stale_missing_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hint_gc_and_hostile_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reclaim_after_reboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hint_old_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_by_prev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_then_scan, setup, teardown),
	};

	return cmocka_run_group_tests_name("ipam_store", tests, NULL, NULL);
}
