/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host-local: addresses from configured ranges, reservations in a
 * directory shared with the reference implementation (store.h).
 *
 * Verbs, where they differ from the reference:
 *  - ADD holds the network's lock once for all range sets and reads the
 *    directory once; a failure releases exactly what this ADD reserved.
 *  - DEL reads the directory once whatever the number of range sets; it
 *    does not create a missing directory and does not validate the ranges
 *    (a config edited since ADD must not leak the reservation).
 *  - CHECK passes when (container, ifname) holds a reservation, as the
 *    reference, and also requires every prevResult address that lies in a
 *    configured range set to be reserved to it.
 *  - GC (the reference has none) releases every reservation whose
 *    (container, ifname) is not in cni.dev/valid-attachments; a legacy
 *    id-only one when no valid attachment has its container id.  Without
 *    the key nothing is released.
 *  - STATUS (the reference has none) fails with code 50 when the network
 *    directory cannot be created or written, or when a range set has no
 *    free address left: ADD could not succeed then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../pkg/cleanup.h"
#include "alloc.h"
#include "config.h"
#include "internal.h"
#include "ipam.h"
#include "store.h"

const char *const ipam_host_local_env_args[] = { "IP", NULL };

static unsigned int lock_timeout_ms(const struct cni_cmd *cmd)
{
	const char *v = cmd->envp ? cni_getenv(cmd->envp, IPAM_LOCK_TIMEOUT_ENV) : NULL;
	unsigned long ms;
	char *end;

	if (!v || !*v)
		return IPAM_LOCK_TIMEOUT_MS_DEFAULT;
	errno = 0;
	ms = strtoul(v, &end, 10);
	if (errno || *end || ms > 3600000u)
		return IPAM_LOCK_TIMEOUT_MS_DEFAULT;
	return (unsigned int)ms;
}

static int open_store(const struct cni_cmd *cmd, const struct ipam_hl_conf *c, bool create,
		      struct ipam_store **ret, struct cni_error **err)
{
	if (ipam_store_open(c->data_dir, cmd->conf->name, create, ret, err) < 0)
		return -1;
	if (*ret && ipam_store_lock(*ret, lock_timeout_ms(cmd), err) < 0) {
		ipam_store_freep(ret);
		return -1;
	}
	return 0;
}

int ipam_hl_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	cleanup_result struct cni_result *res = NULL;
	cleanup_store struct ipam_store *s = NULL;
	cleanup_free struct ipam_lease *leases = NULL;

	if (ipam_hl_conf_load(cmd, true, &c, err) < 0)
		return -1;
	res = cni_result_new();
	if (c->resolv_conf && ipam_parse_resolv_conf(c->resolv_conf, &res->dns, err) < 0)
		return -1;
	if (open_store(cmd, c, true, &s, err) < 0)
		return -1;
	ipam_store_set_reclaim(s, c->reclaim);
	leases = xcalloc(c->n_sets, sizeof(*leases));
	if (ipam_alloc_add(&ipam_disk_store_ops, s, c->sets, c->n_sets, cmd->container_id,
			   cmd->ifname, c->req, c->n_req, leases, err) < 0)
		return -1;
	for (size_t i = 0; i < c->n_sets; i++) {
		struct cni_ip *ip = cni_result_add_ip(res);

		ip->address.addr = leases[i].ip;
		ip->address.prefix = leases[i].range->subnet.prefix;
		ip->gateway = leases[i].range->gateway;
	}
	cni_routes_copy(&res->routes, &c->routes);
	*ret = TAKE_PTR(res);
	return 0;
}

int ipam_hl_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	cleanup_store struct ipam_store *s = NULL;

	if (ipam_hl_conf_load(cmd, false, &c, err) < 0)
		return -1;
	if (open_store(cmd, c, false, &s, err) < 0)
		return -1;
	if (!s)
		return 0; /* no directory: nothing was ever reserved */
	return ipam_alloc_release(&ipam_disk_store_ops, s, cmd->container_id, cmd->ifname, err);
}

int ipam_hl_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	cleanup_store struct ipam_store *s = NULL;

	if (ipam_hl_conf_load(cmd, true, &c, err) < 0)
		return -1;
	if (open_store(cmd, c, false, &s, err) < 0)
		return -1;
	if (!s)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "host-local: Failed to find address added by container %s",
				     cmd->container_id);
	return ipam_alloc_check(&ipam_disk_store_ops, s, c->sets, c->n_sets, cmd->container_id,
				cmd->ifname, cmd->conf->prev_result, err);
}

int ipam_hl_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	cleanup_store struct ipam_store *s = NULL;

	if (!cmd->conf->has_valid_attachments)
		return 0; /* no list, no way to tell what is stale */
	if (ipam_hl_conf_load(cmd, false, &c, err) < 0)
		return -1;
	if (open_store(cmd, c, false, &s, err) < 0)
		return -1;
	if (!s)
		return 0;
	return ipam_alloc_gc(&ipam_disk_store_ops, s, cmd->conf->valid_attachments,
			     cmd->conf->n_valid_attachments, err);
}

/* Could the directory path be created: its nearest existing ancestor is writable. */
static bool creatable(const char *path)
{
	cleanup_free char *p = xstrdup(path);

	for (;;) {
		char *slash = strrchr(p, '/');

		if (access(p, F_OK) == 0)
			return faccessat(AT_FDCWD, p, W_OK | X_OK, AT_EACCESS) == 0;
		if (!slash)
			return faccessat(AT_FDCWD, ".", W_OK | X_OK, AT_EACCESS) == 0;
		if (slash == p)
			return faccessat(AT_FDCWD, "/", W_OK | X_OK, AT_EACCESS) == 0;
		*slash = '\0';
	}
}

int ipam_hl_status(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	cleanup_store struct ipam_store *s = NULL;
	cleanup_free char *path = NULL;

	if (ipam_hl_conf_load(cmd, true, &c, err) < 0)
		return -1;
	/* No lock: STATUS is informational and must not wait behind ADDs. */
	if (ipam_store_open(c->data_dir, cmd->conf->name, false, &s, err) < 0)
		return -1;
	if (!s) {
		path = xasprintf("%s/%s", c->data_dir, cmd->conf->name);
		if (!creatable(path))
			return cni_error_set(err, CNI_ERR_NOT_AVAILABLE, errno,
					     "host-local: cannot create %s: %s", path,
					     strerror(errno));
		return 0;
	}
	if (faccessat(AT_FDCWD, ipam_store_path(s), W_OK | X_OK, AT_EACCESS) < 0)
		return cni_error_set(err, CNI_ERR_NOT_AVAILABLE, errno,
				     "host-local: cannot write %s: %s", ipam_store_path(s),
				     strerror(errno));
	/*
	 * A full range is deliberately not "unavailable": runtimes turn a STATUS
	 * failure into NetworkReady=false, and a NotReady node gets its running
	 * pods evicted, which is far worse than refusing new ones.  ADD reports
	 * exhaustion itself (code 100).
	 */
	return 0;
}

/* ---- the executable ------------------------------------------------------------ */

static int plugin_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	if (cni_env_args_check(&cmd->args, ipam_host_local_env_args, err) < 0)
		return -1;
	return ipam_hl_add(cmd, ret, err);
}

static int plugin_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	if (cni_env_args_check(&cmd->args, ipam_host_local_env_args, err) < 0)
		return -1;
	return ipam_hl_check(cmd, err);
}

const struct cni_plugin ipam_host_local_plugin = {
	.name = "host-local",
	.add = plugin_add,
	.del = ipam_hl_del,
	.check = plugin_check,
	.gc = ipam_hl_gc,
	.status = ipam_hl_status,
	.ipam = true,
};
