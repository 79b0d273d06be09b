/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parts of netns.h that need no netlink: validating a namespace fd and
 * the process-wide "stranded" flag.  Kept apart so the skeleton and the IPAM
 * executables, which never open a netlink socket, do not link libnl.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "netns.h"

static bool stranded;
/*
 * netns_here(): valid once known, until the thread switches (netns_run
 * updates it).  Per thread, as the namespace is.
 */
static __thread struct netns_id here;
static __thread bool here_known;
/*
 * The namespace the first netns_here() found, kept open for the process:
 * the plugin's own namespace, which netns_open_current() wraps and
 * netns_run() returns to, each of which would otherwise walk /proc again.
 */
static int home_fd = -1;
static struct netns_id home_id;

void netns_set_stranded(void)
{
	stranded = true;
}

bool netns_stranded(void)
{
	return stranded;
}

int netns_check_fd(int fd, const char *path, struct cni_error **err)
{
	struct statfs sfs;
	int type;

	if (!path)
		path = "(fd)";
	if (fstatfs(fd, &sfs) < 0)
		return cni_error_errno(err, errno, "netns \"%s\": statfs", path);
	if (sfs.f_type != NSFS_MAGIC && sfs.f_type != PROC_SUPER_MAGIC)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "\"%s\" is not a network namespace", path);
	/* ENOTTY/EINVAL: a kernel without NS_GET_NSTYPE (< 4.11); the magic has to do. */
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0 && errno != ENOTTY && errno != EINVAL)
		return cni_error_errno(err, errno, "netns \"%s\": NS_GET_NSTYPE", path);
	if (type >= 0 && type != CLONE_NEWNET)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "\"%s\" is a namespace but not a network namespace", path);
	return 0;
}

int netns_fd_id(int fd, struct netns_id *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	*ret = (struct netns_id){ .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

const struct netns_id *netns_here(void)
{
	struct netns_id id;
	int fd;

	if (here_known)
		return &here;
	/* thread-self: /proc/self/ns/net names the main thread's namespace. */
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (netns_fd_id(fd, &id) < 0) {
		(void)close(fd);
		return NULL;
	}
	if (home_fd < 0) {
		home_fd = fd;
		home_id = id;
	} else {
		(void)close(fd);
	}
	here = id;
	here_known = true;
	return &here;
}

int netns_home_fd(void)
{
	const struct netns_id *id = netns_here();

	return id && home_fd >= 0 && netns_id_eq(id, &home_id) ? home_fd : -1;
}

void netns_here_set(const struct netns_id *id)
{
	here = *id;
	here_known = true;
}

void netns_here_forget(void)
{
	here_known = false;
}
