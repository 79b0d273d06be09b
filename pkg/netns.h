/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network namespaces: an open namespace fd plus, opened lazily once, an
 * rtnetlink socket created *inside* that namespace and then used from the
 * calling thread wherever it is (netavark's pattern): configuring a
 * container's links, addresses and routes needs no namespace switch at all.
 *
 * netns_run() is the only place in cnic that calls setns().  It switches the
 * calling thread in, runs a function, and switches back.  Plugins are
 * single-threaded, so "the calling thread" is the process; if switching
 * back ever fails the process is stranded in the wrong namespace: the error
 * is fatal, replaces whatever error fn reported, and every later netns_run(),
 * netns_open_current() and sysctl of "the current namespace" refuses to act.
 * Sockets already open stay bound to their own namespaces and keep working.
 * Code that execs or touches host state (skeleton, invoke) should check
 * netns_stranded() first.
 *
 * Ownership of the fd is explicit: netns_open() and netns_open_current()
 * own theirs; netns_from_fd() borrows the caller's fd unless told to take it
 * (the skeleton keeps cmd->netns_fd and closes it itself).
 */
#ifndef CNIC_NETNS_H
#define CNIC_NETNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

struct cnl_sock;

/*
 * What tells two namespace files apart: st_dev and st_ino of an fd on them.
 * Known once per fd, so "is this the namespace we are in" needs no syscall.
 */
struct netns_id {
	dev_t dev;
	ino_t ino;
};

struct netns {
	int fd;		       /* O_RDONLY|O_CLOEXEC, CLONE_NEWNET */
	bool owns_fd;	       /* netns_close() closes fd */
	struct netns_id id;    /* of fd */
	char *path;	       /* for messages: CNI_NETNS, or "current" */
	struct cnl_sock *rtnl; /* see cnl_sock() in rtnl.h; NULL until first use */
};

/*
 * Open path and check it is a network namespace: on nsfs (or procfs, for
 * /proc/<pid>/ns/net on old kernels) and, where the kernel can tell,
 * NS_GET_NSTYPE == CLONE_NEWNET.  A missing path gives errnum ENOENT; a
 * file that is not a network namespace gives code 4.
 */
int netns_open(const char *path, struct netns **ret, struct cni_error **err);

/*
 * Wrap an already open namespace fd, after the same checks.  With take the
 * netns owns fd from now on (also when this fails); without it, fd must stay
 * open while the netns is used and is left open by netns_close().  path is
 * only used in messages (may be NULL).
 */
int netns_from_fd(int fd, bool take, const char *path, struct netns **ret, struct cni_error **err);

/*
 * Wrap an fd that already passed netns_check_fd() and whose identity is
 * known (the skeleton's cmd->netns_fd and cmd->netns_id): no syscall.  The
 * fd is borrowed, as netns_from_fd() without take.
 */
struct netns *netns_from_checked_fd(int fd, const struct netns_id *id, const char *path);

/* The calling thread's own network namespace (/proc/thread-self/ns/net). */
int netns_open_current(struct netns **ret, struct cni_error **err);

/* The checks netns_open() applies, on an fd; path for messages.  0 / -1. */
int netns_check_fd(int fd, const char *path, struct cni_error **err);

/* fd's identity (fstat).  0 / -1 with errno. */
int netns_fd_id(int fd, struct netns_id *ret);

/*
 * The identity of the namespace the calling thread is in: stat()ed once,
 * then kept current by netns_run() (the only setns() caller).  NULL if
 * /proc/thread-self/ns/net cannot be stat()ed (then callers ask again).
 */
const struct netns_id *netns_here(void);
/* For netns_run() only: the thread is now in id. */
void netns_here_set(const struct netns_id *id);
/*
 * An fd of the calling thread's current namespace when that is the one
 * the process first found itself in (kept open for the process: never
 * close it), else -1.
 */
int netns_home_fd(void);
/* For code that switches namespaces without netns_run() (unit tests): ask again. */
void netns_here_forget(void);

static inline bool netns_id_eq(const struct netns_id *a, const struct netns_id *b)
{
	return a && b && a->dev == b->dev && a->ino == b->ino;
}

/* Is ns the namespace the calling thread is in right now? */
bool netns_is_current(const struct netns *ns);

/*
 * Run fn(arg, err) with the calling thread inside ns, then switch back.
 * When ns already is the current namespace, fn just runs.  Returns what fn
 * returns, or -1 if switching failed.
 */
typedef int (*netns_fn)(void *arg, struct cni_error **err);
int netns_run(struct netns *ns, netns_fn fn, void *arg, struct cni_error **err);

/* True once a switch back failed; nothing namespace-related works after that. */
bool netns_stranded(void);
/* For netns_run() only: record that a switch back failed. */
void netns_set_stranded(void);

/* Close the socket, and the fd if owned.  NULL-safe. */
void netns_close(struct netns *ns);
void netns_closep(struct netns **ns);
#define cleanup_netns __attribute__((cleanup(netns_closep)))

#endif
