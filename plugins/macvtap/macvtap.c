/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macvtap: a macvtap child of a host link as CNI_IFNAME in the container,
 * for a VM monitor to open through its character device /dev/tap<ifindex>,
 * whose owner is set to the VM process's uid/gid.  Not in the reference
 * set; kubevirt/macvtap-cni is the model (keys deviceID, mtu, promiscMode,
 * owner/group defaulting to 107, CNI_ARGS MAC), plus master, mode, mac and
 * an optional ipam.  See docs/macvtap.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../ipam/ipam.h"
#include "../../pkg/devmove.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

/* kubevirt's qemu user and group, macvtap-cni's default owner. */
#define DEFAULT_OWNER 107u

struct mvt_conf {
	struct l2_conf l2; /* .master: deviceID's netdev, else "master" (NULL: default route) */
	bool promisc;
	char *device_id;
	uint32_t owner, group;
	bool has_owner, has_group;
};

static const struct cni_field mvt_fields[] = {
	{ .key = "promiscMode",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct mvt_conf, promisc),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "deviceID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct mvt_conf, device_id),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "owner",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct mvt_conf, owner),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct mvt_conf, has_owner) },
	{ .key = "group",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct mvt_conf, group),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct mvt_conf, has_group) },
	{ 0 },
};

static const char *const mvt_env_args[] = { "MAC", NULL };

static l2_load_fn load_conf;
static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err);
static l2_create_fn create;
static l2_check_fn check_link;

/* No linkInContainer: the master is always the host's (see create()). */
static const struct l2_ops ops = {
	.plugin = "macvtap",
	.kind = "macvtap",
	.keys = L2_KEY_MASTER | L2_KEY_MODE | L2_KEY_MTU | L2_KEY_MAC,
	.modes = l2_macvlan_modes,
	.n_modes = ARRAY_SIZE(l2_macvlan_modes),
	.env_args = mvt_env_args,
	.dns = L2_DNS_CONFIG_IF_ANY,
	.ifconfig = { .dad = true, .arp_notify = true },
	.create = create,
	.check = check_link,
	.conf_size = sizeof(struct mvt_conf),
	.fields = mvt_fields,
	.load = load_conf,
	.del = cmd_del,
};

/* Owner and group by default, the master a deviceID names. */
static int load_conf(const struct cni_cmd *cmd, struct l2_conf *l2, bool add, struct cni_error **err)
{
	struct mvt_conf *c = (struct mvt_conf *)l2;
	char name[IFNAMSIZ] = "";

	if (!c->has_owner)
		c->owner = DEFAULT_OWNER;
	if (!c->has_group)
		c->group = DEFAULT_OWNER;
	c->l2.link.macvlan_mode = c->l2.mode_val;
	/* A device plugin's deviceID (runtimeConfig first) names the master. */
	if (cmd->conf->rc.device_id && *cmd->conf->rc.device_id) {
		free(c->device_id);
		c->device_id = xstrdup(cmd->conf->rc.device_id);
	}
	if (c->device_id && *c->device_id) {
		struct cni_error *e = NULL;
		bool aux;

		if (dm_sysfs_device_id("/sys", c->device_id, &aux, &e) == 0) {
			/* A PCI function or auxiliary device (an SR-IOV VF): its netdev. */
			if (dm_sysfs_netdev("/sys", NULL, aux ? NULL : c->device_id,
					    aux ? c->device_id : NULL, name, err) < 0)
				return cni_error_wrap(err, "deviceID \"%s\"", c->device_id);
		} else {
			cni_error_free(e);
			if (strlen(c->device_id) >= IFNAMSIZ || strchr(c->device_id, '/'))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						     "deviceID \"%s\" is neither a PCI/auxiliary "
						     "device nor an interface name",
						     c->device_id);
			snprintf(name, sizeof(name), "%s", c->device_id);
		}
		free(c->l2.master);
		c->l2.master = xstrdup(name);
	} else if (c->l2.master && *c->l2.master && strlen(c->l2.master) >= IFNAMSIZ) {
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "invalid master \"%s\"",
				     c->l2.master);
	}
	return 0;
}

/*
 * The name the link has in the host between its creation and the move:
 * "mvt" + 8 hex digits of the container id and ifname, so DEL finds one
 * left by an ADD killed in between, even without the netns.
 */
static void temp_name(const struct cni_cmd *cmd, char ret[IFNAMSIZ])
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *c = cmd->container_id ? cmd->container_id : ""; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *c = cmd->ifname; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(ret, IFNAMSIZ, "mvt%08x", h);
}

static void tap_path(int ifindex, char ret[32])
{
	snprintf(ret, 32, "/dev/tap%d", ifindex);
}

/*
 * The character device of link ifindex.  The kernel names it by the
 * ifindex the link has where it lives and creates it synchronously
 * (devtmpfs), so it is there once the link is.
 */
static int chown_tap(int ifindex, uid_t uid, gid_t gid, struct cni_error **err)
{
	char p[32];
	struct stat st;

	tap_path(ifindex, p);
	if (stat(p, &st) < 0)
		return cni_error_errno(err, errno, "character device %s of the macvtap", p);
	if (!S_ISCHR(st.st_mode))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "%s is not a character device", p);
	if (chown(p, uid, gid) < 0)
		return cni_error_errno(err, errno,
				       "failed to change ownership of tap device %s to %u:%u", p,
				       (unsigned int)uid, (unsigned int)gid);
	return 0;
}

/*
 * Born in the host, not in the container: the character device is named
 * after the ifindex, and /dev is shared by every namespace.  The host's
 * ifindexes are unique, and a link keeps its index when it moves (unless
 * the container uses it), so /dev/tapN is unique too.
 */
static int create(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *host,
		  struct netns *cont, const struct cnl_link *master, struct cnl_link *ret,
		  struct cni_error **err)
{
	const struct mvt_conf *m = (const struct mvt_conf *)c;
	struct cni_error *e = NULL;
	struct cnl_link link;
	char tmp[IFNAMSIZ];
	const char *cur;
	bool in_host;

	if (cnl_link_get(cont, cmd->ifname, &link, NULL) == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "container interface \"%s\" already exists", cmd->ifname);
	temp_name(cmd, tmp);
	(void)l2_link_del_kind(host, tmp, "macvtap", false, NULL);
	if (cnl_link_add(host,
			 &(struct cnl_newlink){ .kind = "macvtap",
						.name = tmp,
						.mtu = (unsigned int)c->mtu,
						.mac = c->mac,
						.parent = master->ifindex,
						.macvlan_mode = c->link.macvlan_mode },
			 err) < 0)
		return cni_error_wrap(err, "failed to create macvtap");
	in_host = true;
	cur = tmp;
	if (cnl_link_get(host, tmp, &link, err) < 0 ||
	    dm_link_move(host, link.ifindex, tmp, cont, tmp, err) < 0)
		goto undo;
	in_host = false;
	if (cnl_link_rename(cont, tmp, cmd->ifname, &e) < 0) {
		cni_error_move(err, &e);
		goto undo;
	}
	cur = cmd->ifname;
	if ((m->promisc && cnl_link_set_promisc(cont, cmd->ifname, true, err) < 0) ||
	    cnl_link_set_up(cont, cmd->ifname, true, err) < 0 ||
	    cnl_link_get(cont, cmd->ifname, ret, err) < 0 ||
	    chown_tap(ret->ifindex, m->owner, m->group, err) < 0)
		goto undo;
	return 0;

undo:
	(void)cnl_link_del(in_host ? host : cont, cur, NULL);
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *host = NULL;
	cleanup_netns struct netns *cont = NULL;
	char tmp[IFNAMSIZ];
	int r = l2_cmd_del_child(cmd, "macvtap", err);

	/*
	 * An ADD killed before the rename leaves the link under its temporary
	 * name: in the host before the move, in the container after it.
	 */
	temp_name(cmd, tmp);
	if (netns_open_current(&host, err) < 0 ||
	    l2_link_del_kind(host, tmp, "macvtap", false, err) < 0)
		r = -1;
	if (cmd->netns_fd >= 0 && (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
				   l2_link_del_kind(cont, tmp, "macvtap", false, err) < 0))
		r = -1;
	return r;
}

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err)
{
	const struct mvt_conf *m = (const struct mvt_conf *)c;
	struct stat st;
	char p[32];

	if (l2_check_mode(&ops, c, link->macvlan_mode, err) < 0)
		return -1;
	if (m->promisc && !(link->flags & IFF_PROMISC))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not in promiscuous mode",
				     link->name);
	tap_path(link->ifindex, p);
	if (stat(p, &st) < 0)
		return cni_error_errno(err, errno, "character device %s of \"%s\"", p, link->name);
	if (st.st_uid != m->owner || st.st_gid != m->group)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "%s is owned by %u:%u, the config says %u:%u", p,
				     (unsigned int)st.st_uid, (unsigned int)st.st_gid, m->owner,
				     m->group);
	return 0;
}

int main(void)
{
	return l2_plugin_main(&ops);
}
