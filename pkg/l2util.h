/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pieces shared by the plugins that put one link into a container and hang
 * an IPAM result on it (ptp, macvlan, ipvlan): the master of a macvlan or
 * ipvlan child, creating such a child without ever naming it in the host,
 * CNI_ARGS key policing with in-process IPAM, and the prevResult lookups of
 * CHECK.
 */
#ifndef CNIC_L2UTIL_H
#define CNIC_L2UTIL_H

#include <net/if.h>
#include <stdbool.h>

#include "error.h"
#include "link.h"
#include "netns.h"
#include "skel.h"
#include "types.h"

/*
 * The output device of the first default route (0.0.0.0/0, then ::/0) in
 * ns's main table, as the reference picks a master when none is configured.
 * No default route: code 7 "no default route interface found".
 */
int l2_default_route_link(struct netns *ns, struct cnl_link *ret, struct cni_error **err);

/*
 * The master link: name, or when name is NULL/"" the default-route device of
 * ns.  A missing link gives code 7 "failed to lookup master ...".
 */
int l2_master_get(struct netns *ns, const char *name, struct cnl_link *ret,
		  struct cni_error **err);

/*
 * Create spec (kind, mtu, mac, parent, mode...; name and netns are ignored)
 * as CNI_IFNAME `ifname` in container.  When via is the host, the link is
 * created through the host's socket (the parent is a host ifindex) but born
 * in container; when via is the container itself (linkInContainer), inside
 * it.  Either way it gets a random temporary name first and is renamed
 * inside the container, so it never carries a name in the host and a host
 * link called like CNI_IFNAME cannot collide with it.  An existing ifname in
 * the container gives "container interface \"eth0\" already exists" (errnum
 * EEXIST).  On failure nothing is left behind.  *ret: the link, re-read.
 */
int l2_child_create(struct netns *via, struct netns *container, const struct cnl_newlink *spec,
		    const char *ifname, struct cnl_link *ret, struct cni_error **err);

/*
 * Delete ifname in ns if it is a link of that kind (NULL: any) and, with
 * peer_elsewhere, its peer or parent is in another namespace (a veth of
 * ours has its host end in the host).  Anything else is left alone: after
 * an ADD that failed because the name was taken, a DEL must not remove
 * someone else's interface.  Returns 1 when deleted, 0 when there was
 * nothing of ours to delete.
 */
int l2_link_del_kind(struct netns *ns, const char *ifname, const char *kind, bool peer_elsewhere,
		     struct cni_error **err);

/*
 * CNI_ARGS keys: own (NULL-terminated, may be NULL) plus those of the
 * built-in IPAM type, when the config uses one in-process (an exec'd IPAM
 * plugin polices its own keys, so then nothing is checked).  As the
 * reference, unknown keys are refused unless IgnoreUnknown is set.
 */
int l2_env_args_check(const struct cni_cmd *cmd, const char *const *own, struct cni_error **err);

/* The IPAM type names a built-in (host-local, static) that runs in-process. */
bool l2_ipam_builtin(const struct cni_netconf *conf);

/*
 * CHECK: the prevResult interface that is CNI_IFNAME in CNI_NETNS (its
 * index), or an error as the reference's: no prevResult (code 7), no such
 * interface ("sandbox in prevResult ... doesn't match configured netns").
 */
int l2_prev_iface(const struct cni_cmd *cmd, const char *plugin, const struct cni_result **ret_prev,
		  int *ret_idx, struct cni_error **err);

/*
 * CHECK of the container link against the prevResult interface: it exists
 * in container, is of kind, and has the MAC the result recorded.
 */
int l2_check_link(struct netns *container, const struct cni_iface *iface, const char *kind,
		  struct cnl_link *ret, struct cni_error **err);

/*
 * The temporary name a child link has between its creation and the rename
 * to ifname: "cnic" + 8 hex digits, fixed for the container netns and
 * ifname, so a link left by an ADD killed in between can be found again.
 */
void l2_temp_name(struct netns *container, const char *ifname, char ret[IFNAMSIZ]);

/*
 * DEL of a child link: ifname if it is of kind, and a leftover temporary
 * link of kind (see l2_temp_name).  Missing links are not an error.
 */
int l2_child_del(struct netns *container, const char *ifname, const char *kind,
		 struct cni_error **err);

/* The whole DEL of macvlan and ipvlan: IPAM, then the child link of kind. */
int l2_cmd_del_child(const struct cni_cmd *cmd, const char *kind, struct cni_error **err);

/* "veth" + 8 random lowercase hex digits (the reference's RandomVethName). */
void l2_random_name(const char *prefix, char ret[IFNAMSIZ]);

#endif
