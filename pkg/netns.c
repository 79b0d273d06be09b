/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "netns.h"
#include "rtnl.h"

/* /proc/self/ns/net names the main thread's namespace; this one is ours. */
#define SELF_NETNS "/proc/thread-self/ns/net"

int netns_from_fd(int fd, bool take, const char *path, struct netns **ret, struct cni_error **err)
{
	struct netns_id id;
	struct netns *ns;

	if (netns_check_fd(fd, path, err) < 0 ||
	    (netns_fd_id(fd, &id) < 0 &&
	     cni_error_errno(err, errno, "netns \"%s\": fstat", path ? path : "(fd)") < 0)) {
		if (take)
			(void)close(fd);
		return -1;
	}
	ns = netns_from_checked_fd(fd, &id, path);
	ns->owns_fd = take;
	*ret = ns;
	return 0;
}

struct netns *netns_from_checked_fd(int fd, const struct netns_id *id, const char *path)
{
	struct netns *ns = xcalloc(1, sizeof(*ns));

	ns->fd = fd;
	ns->id = *id;
	ns->path = xstrdup(path ? path : "(fd)");
	return ns;
}

int netns_open(const char *path, struct netns **ret, struct cni_error **err)
{
	int fd;

	/* O_NONBLOCK: a FIFO planted at the path must not hang us in open(). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cni_error_errno(err, errno, "open netns \"%s\"", path);
	return netns_from_fd(fd, true, path, ret, err);
}

int netns_open_current(struct netns **ret, struct cni_error **err)
{
	const struct netns_id *id;
	struct netns_id own;
	int fd;

	if (netns_stranded())
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "the current netns is not ours: an earlier switch back failed");
	/* Already open: borrowed, as the process keeps it. */
	fd = netns_home_fd();
	if (fd >= 0) {
		*ret = netns_from_checked_fd(fd, netns_here(), "current");
		return 0;
	}
	/* The kernel's own name for our namespace: nothing to check. */
	fd = open(SELF_NETNS, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cni_error_errno(err, errno, "open " SELF_NETNS);
	id = netns_here();
	if (!id) {
		if (netns_fd_id(fd, &own) < 0) {
			int e = errno;

			(void)close(fd);
			return cni_error_errno(err, e, "stat " SELF_NETNS);
		}
		id = &own;
	}
	*ret = netns_from_checked_fd(fd, id, "current");
	(*ret)->owns_fd = true;
	return 0;
}

bool netns_is_current(const struct netns *ns)
{
	return netns_id_eq(&ns->id, netns_here());
}

int netns_run(struct netns *ns, netns_fn fn, void *arg, struct cni_error **err)
{
	cleanup_close int self = -1;
	struct netns_id back;
	int home, r;

	if (netns_stranded())
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "refusing to enter netns \"%s\": an earlier switch back failed",
				     ns->path);
	if (netns_is_current(ns))
		return fn(arg, err);

	/* Back to the process's own namespace: its fd is kept open (netns_home_fd). */
	home = netns_home_fd();
	if (home < 0) {
		self = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return cni_error_errno(err, errno, "open " SELF_NETNS);
	}
	if (netns_here())
		back = *netns_here();
	else if (netns_fd_id(self, &back) < 0)
		return cni_error_errno(err, errno, "stat " SELF_NETNS);
	if (setns(ns->fd, CLONE_NEWNET) < 0)
		return cni_error_errno(err, errno, "enter netns \"%s\"", ns->path);
	netns_here_set(&ns->id);

	r = fn(arg, err);

	if (setns(home >= 0 ? home : self, CLONE_NEWNET) == 0) {
		netns_here_set(&back);
	} else {
		int e = errno;

		/*
		 * Anything done from here on would land in the container's
		 * namespace: this error outranks whatever fn reported.
		 */
		netns_set_stranded();
		if (err) {
			cni_error_free(*err);
			*err = NULL;
		}
		return cni_error_errno(err, e, "FATAL: cannot return from netns \"%s\"", ns->path);
	}
	return r;
}

void netns_close(struct netns *ns)
{
	if (!ns)
		return;
	cnl_sock_free(ns->rtnl);
	if (ns->owns_fd && ns->fd >= 0)
		(void)close(ns->fd);
	free(ns->path);
	free(ns);
}

void netns_closep(struct netns **ns)
{
	netns_close(*ns);
	*ns = NULL;
}
