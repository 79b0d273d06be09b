/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tuning's backup file: <dataDir>/<container id>_<ifname>.json holds the
 * original values of what ADD changes, in the reference's format (mac,
 * promisc, mtu, allmulti, txQLen), so either implementation restores the
 * other's; cnic adds a "cnic" member the reference ignores (what ADD set,
 * the sysctls with their original values, the owner).  Only types*.c may
 * use json-c: the file is written by hand and read with cni_json_*.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../pkg/cleanup.h"
#include "tuning.h"

#define MAX_BACKUP (1u << 20)

const char *const attr_key[A_COUNT] = { "mac", "promisc", "mtu", "allmulti", "txQLen" };

void backup_free(struct backup *b)
{
	for (size_t i = 0; i < b->n_sysctls; i++) {
		free(b->sysctls[i].name);
		free(b->sysctls[i].old);
		free(b->sysctls[i].set);
	}
	free(b->sysctls);
	free(b->network);
	free(b->container_id);
	free(b->ifname);
	*b = (struct backup){ 0 };
}

char *backup_path(const char *dir, const char *cid, const char *ifname)
{
	return xasprintf("%s/%s_%s.json", dir, cid, ifname);
}

/* Append the attributes of a (those it has) as JSON members, comma-separated. */
static void put_attrs(FILE *f, const struct attrs *a)
{
	const char *sep = "";

	for (int i = 0; i < A_COUNT; i++) {
		if (!a->has[i])
			continue;
		fprintf(f, "%s\"%s\":", sep, attr_key[i]);
		sep = ",";
		switch (i) {
		case A_MAC: {
			cleanup_free char *q = cni_json_quote(a->mac);

			fputs(q, f);
			break;
		}
		case A_PROMISC:
			fputs(a->promisc ? "true" : "false", f);
			break;
		case A_ALLMULTI:
			fputs(a->allmulti ? "true" : "false", f);
			break;
		case A_MTU:
			fprintf(f, "%lld", a->mtu);
			break;
		case A_TXQLEN:
			fprintf(f, "%lld", a->txqlen);
			break;
		}
	}
}

static char *backup_json(const struct backup *b)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	fputc('{', f);
	put_attrs(f, &b->orig);
	fprintf(f, "%s\"cnic\":{\"set\":{", memchr(b->orig.has, true, A_COUNT) ? "," : "");
	put_attrs(f, &b->set);
	fputs("},\"sysctl\":[", f);
	for (size_t i = 0; i < b->n_sysctls; i++) {
		cleanup_free char *n = cni_json_quote(b->sysctls[i].name);
		cleanup_free char *o = cni_json_quote(b->sysctls[i].old);
		cleanup_free char *s = cni_json_quote(b->sysctls[i].set);

		fprintf(f, "%s{\"name\":%s,\"old\":%s,\"set\":%s}", i ? "," : "", n, o, s);
	}
	fputc(']', f);
	if (b->network) {
		cleanup_free char *n = cni_json_quote(b->network);
		cleanup_free char *c = cni_json_quote(b->container_id);
		cleanup_free char *i = cni_json_quote(b->ifname);

		fprintf(f, ",\"network\":%s,\"containerID\":%s,\"ifname\":%s", n, c, i);
	}
	fputs("}}\n", f);
	if (fclose(f) != 0)
		abort();
	return buf;
}

/* mkdir -p, 0700 for what we create. */
static int mkdir_p(const char *dir, struct cni_error **err)
{
	cleanup_free char *p = xstrdup(dir);

	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return cni_error_errno(err, errno, "create directory %s", p);
		if (end)
			break;
		*s = '/';
	}
	return 0;
}

/* Written to a temporary file and renamed: a crash never leaves half a backup. */
int backup_write(const char *dir, const char *path, const struct backup *b, struct cni_error **err)
{
	cleanup_free char *json = backup_json(b);
	cleanup_free char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	cleanup_close int fd = -1;
	size_t len = strlen(json), off = 0;

	if (mkdir_p(dir, err) < 0)
		return cni_error_wrap(err, "tuning backup");
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cni_error_errno(err, errno, "create %s", tmp);
	while (off < len) {
		ssize_t n = write(fd, json + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cni_error_errno(err, errno, "write %s", tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		cni_error_errno(err, errno, "write %s", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		cni_error_errno(err, errno, "rename %s to %s", tmp, path);
		goto fail;
	}
	return 0;
fail:
	(void)unlink(tmp);
	return -1;
}

/* The pid of a "<name>.json.tmp.<pid>" entry, 0 when the name is not one. */
static pid_t tmp_pid(const char *name, size_t *base_len)
{
	const char *t = strstr(name, ".json.tmp.");
	char *end;
	long pid;

	if (!t || !t[10])
		return 0;
	errno = 0;
	pid = strtol(t + 10, &end, 10);
	if (errno || *end || pid <= 0 || (pid_t)pid != pid)
		return 0;
	*base_len = (size_t)(t - name) + 5;
	return (pid_t)pid;
}

void backup_remove_tmp(const char *dir, const char *path, bool only_dead)
{
	const char *base = NULL;
	struct dirent *e;
	DIR *d;

	if (path) {
		base = strrchr(path, '/');
		base = base ? base + 1 : path;
	}
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t blen = 0;
		pid_t pid = tmp_pid(e->d_name, &blen);
		cleanup_free char *full = NULL;

		if (!pid)
			continue;
		if (base && (strlen(base) != blen || strncmp(base, e->d_name, blen) != 0))
			continue;
		/* A live writer (or one we may not signal) is still at work. */
		if (only_dead && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		full = xasprintf("%s/%s", dir, e->d_name);
		(void)unlink(full);
	}
	closedir(d);
}

struct raw_attrs {
	char *mac;
	bool promisc, has_promisc;
	uint64_t mtu;
	bool has_mtu;
	bool allmulti, has_allmulti;
	uint64_t txqlen;
	bool has_txqlen;
};

#define RA(m) offsetof(struct raw_attrs, m)

static const struct cni_field attr_fields[] = {
	{ .key = "mac", .kind = CNI_FIELD_STRING, .offset = RA(mac), .flags = CNI_FIELD_NULL_OK },
	{ .key = "promisc",
	  .kind = CNI_FIELD_BOOL,
	  .offset = RA(promisc),
	  .present = RA(has_promisc),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "mtu",
	  .kind = CNI_FIELD_UINT64,
	  .offset = RA(mtu),
	  .present = RA(has_mtu),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT32_MAX },
	{ .key = "allmulti",
	  .kind = CNI_FIELD_BOOL,
	  .offset = RA(allmulti),
	  .present = RA(has_allmulti),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "txQLen",
	  .kind = CNI_FIELD_UINT64,
	  .offset = RA(txqlen),
	  .present = RA(has_txqlen),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT32_MAX },
	{ 0 },
};

static int decode_attrs(const struct cni_json *v, struct attrs *ret, const char *path,
			struct cni_error **err)
{
	struct raw_attrs ra = { 0 };
	char mac[CNI_MAC_STRLEN];

	if (cni_json_decode(v, attr_fields, &ra, path, err) < 0)
		return -1;
	memset(ret, 0, sizeof(*ret));
	/* The reference omits a zero MTU and an empty MAC: both mean "not recorded". */
	if (ra.mac && *ra.mac && cni_mac_parse(ra.mac, mac) == 0) {
		ret->has[A_MAC] = true;
		snprintf(ret->mac, sizeof(ret->mac), "%s", mac);
	}
	ret->has[A_PROMISC] = ra.has_promisc;
	ret->promisc = ra.promisc;
	ret->has[A_MTU] = ra.has_mtu && ra.mtu > 0;
	ret->mtu = (long long)ra.mtu;
	ret->has[A_ALLMULTI] = ra.has_allmulti;
	ret->allmulti = ra.allmulti;
	ret->has[A_TXQLEN] = ra.has_txqlen;
	ret->txqlen = (long long)ra.txqlen;
	cni_fields_free(attr_fields, &ra);
	return 0;
}

static int decode_backup_sysctl(const struct cni_json *v, struct backup *b, const char *path,
				struct cni_error **err)
{
	size_t n = cni_json_array_len(v);

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_DECODE, 0, "%s: not an array", path);
	for (size_t i = 0; i < n; i++) {
		const struct cni_json *e = cni_json_array_get(v, i);
		const char *name = cni_json_string(cni_json_get(e, "name"));
		const char *old = cni_json_string(cni_json_get(e, "old"));
		const char *set = cni_json_string(cni_json_get(e, "set"));
		struct backup_sysctl *s;

		if (!name || !old || !set)
			return cni_error_set(err, CNI_ERR_DECODE, 0, "%s[%zu]: bad entry", path, i);
		s = xappend(&b->sysctls, &b->n_sysctls, sizeof(*s));
		s->name = xstrdup(name);
		s->old = xstrdup(old);
		s->set = xstrdup(set);
	}
	return 0;
}

/* 1 and *ret when the file exists, 0 when it does not. */
int backup_read(const char *path, struct backup *ret, struct cni_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	struct cni_json *j = NULL;
	struct backup b = { 0 };
	const struct cni_json *cnic;
	size_t len = 0;
	int r = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return cni_error_errno(err, errno, "open %s", path);
	}
	buf = xmalloc(MAX_BACKUP + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, MAX_BACKUP - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cni_error_errno(err, errno, "read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == MAX_BACKUP)
			return cni_error_set(err, CNI_ERR_DECODE, 0, "%s: too large", path);
	}
	buf[len] = '\0';
	if (cni_json_parse(buf, len, &j, err) < 0)
		return cni_error_wrap(err, "%s", path);
	if (decode_attrs(j, &b.orig, "", err) < 0)
		goto out;
	cnic = cni_json_get(j, "cnic");
	if (cnic && cni_json_is_object(cnic)) {
		const struct cni_json *sys = cni_json_get(cnic, "sysctl");

		if (decode_attrs(cni_json_get(cnic, "set"), &b.set, "cnic.set", err) < 0)
			goto out;
		b.has_set = true;
		if (sys && decode_backup_sysctl(sys, &b, "cnic.sysctl", err) < 0)
			goto out;
		if (cni_json_string(cni_json_get(cnic, "network")) &&
		    cni_json_string(cni_json_get(cnic, "containerID")) &&
		    cni_json_string(cni_json_get(cnic, "ifname"))) {
			b.network = xstrdup(cni_json_string(cni_json_get(cnic, "network")));
			b.container_id = xstrdup(cni_json_string(cni_json_get(cnic, "containerID")));
			b.ifname = xstrdup(cni_json_string(cni_json_get(cnic, "ifname")));
		}
	}
	*ret = b;
	b = (struct backup){ 0 };
	r = 1;
out:
	if (r < 0)
		cni_error_wrap(err, "%s", path);
	backup_free(&b);
	cni_json_free(j);
	return r;
}
