/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "sysctl.h"

#define SYSCTL_ROOT "/proc/sys/"
/* Longer than any value the kernel prints for one sysctl we touch. */
#define SYSCTL_MAX_VALUE 65536

static bool bad_component(const char *c, size_t n)
{
	return n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.');
}

int sysctl_path(const char *name, bool net_only, char **ret, struct cni_error **err)
{
	cleanup_free char *path = NULL;
	bool swap = false;
	char *rel;
	size_t len;

	len = strlen(name);
	if (len == 0 || len > PATH_MAX - sizeof(SYSCTL_ROOT))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "invalid sysctl name \"%s\"", name);
	for (const char *p = name; *p; p++) {
		if (*p == '.' || *p == '/') {
			swap = *p == '.';
			break;
		}
	}
	path = xasprintf(SYSCTL_ROOT "%s", name);
	rel = path + strlen(SYSCTL_ROOT);
	for (char *p = rel; *p; p++) {
		if (swap && *p == '.')
			*p = '/';
		else if (swap && *p == '/')
			*p = '.';
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					     "invalid sysctl name \"%s\"", name);
	}
	/* Every component must be a real name: nothing may climb out of /proc/sys. */
	for (const char *c = rel;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (bad_component(c, n))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					     "invalid sysctl name \"%s\"", name);
		if (!slash)
			break;
		c = slash + 1;
	}
	if (net_only && strncmp(rel, "net/", 4) != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "sysctl \"%s\" is not a network sysctl (net.*)", name);
	*ret = TAKE_PTR(path);
	return 0;
}

static int read_path(const char *path, char **ret, struct cni_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cni_error_errno(err, errno, "read sysctl %s", path);
	buf = xmalloc(SYSCTL_MAX_VALUE + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, SYSCTL_MAX_VALUE - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cni_error_errno(err, errno, "read sysctl %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == SYSCTL_MAX_VALUE)
			return cni_error_set(err, CNI_ERR_INTERNAL, EFBIG,
					     "read sysctl %s: value too long", path);
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int write_path(const char *path, const char *value, struct cni_error **err)
{
	cleanup_close int fd = -1;
	size_t len = strlen(value);
	ssize_t n;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cni_error_errno(err, errno, "write sysctl %s", path);
	/* The kernel parses a sysctl from a single write. */
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cni_error_errno(err, errno, "write \"%s\" to sysctl %s", value, path);
	if ((size_t)n != len)
		return cni_error_set(err, CNI_ERR_IO, EIO, "write \"%s\" to sysctl %s: short write",
				     value, path);
	return 0;
}

int sysctl_get(const char *name, char **ret, struct cni_error **err)
{
	cleanup_free char *path = NULL;

	if (sysctl_path(name, false, &path, err) < 0)
		return -1;
	return read_path(path, ret, err);
}

int sysctl_set(const char *name, const char *value, struct cni_error **err)
{
	cleanup_free char *path = NULL;

	if (sysctl_path(name, false, &path, err) < 0)
		return -1;
	return write_path(path, value, err);
}

/* ---- inside a namespace ----------------------------------------------- */

struct net_sysctl_req {
	const char *path;
	const char *value; /* write / ensure */
	bool ensure;
	char **ret;  /* read */
	int written; /* ensure: 1 when it wrote */
};

static int run_op(void *arg, struct cni_error **err)
{
	struct net_sysctl_req *op = arg;
	cleanup_free char *cur = NULL;

	if (op->ret)
		return read_path(op->path, op->ret, err);
	if (op->ensure) {
		if (read_path(op->path, &cur, err) < 0)
			return -1;
		if (strcmp(cur, op->value) == 0)
			return 0;
	}
	if (write_path(op->path, op->value, err) < 0)
		return -1;
	op->written = 1;
	return 0;
}

static int net_op(struct netns *ns, const char *name, struct net_sysctl_req *op,
		  struct cni_error **err)
{
	cleanup_free char *path = NULL;
	int r;

	if (sysctl_path(name, true, &path, err) < 0)
		return -1;
	/* "The current namespace" would be the container's. */
	if (!ns && netns_stranded())
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "sysctl %s: an earlier netns switch back failed", name);
	op->path = path;
	r = ns ? netns_run(ns, run_op, op, err) : run_op(op, err);
	if (r < 0 && ns)
		return cni_error_wrap(err, "netns \"%s\"", ns->path);
	return r;
}

int sysctl_get_net(struct netns *ns, const char *name, char **ret, struct cni_error **err)
{
	struct net_sysctl_req op = { .ret = ret };

	return net_op(ns, name, &op, err);
}

int sysctl_set_net(struct netns *ns, const char *name, const char *value, struct cni_error **err)
{
	struct net_sysctl_req op = { .value = value };

	return net_op(ns, name, &op, err);
}

int sysctl_ensure_net(struct netns *ns, const char *name, const char *value, struct cni_error **err)
{
	struct net_sysctl_req op = { .value = value, .ensure = true };

	if (net_op(ns, name, &op, err) < 0)
		return -1;
	return op.written;
}
