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
#include <limits.h>
#include <linux/if_link.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/devmove.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/l2util.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

/* kubevirt's qemu user and group, macvtap-cni's default owner. */
#define DEFAULT_OWNER 107u

struct mvt_conf {
	char *master;
	char *mode;
	int mtu;
	char *mac;
	bool promisc;
	char *device_id;
	uint32_t owner, group;
	bool has_owner, has_group;
	uint32_t mode_val;
	char master_name[IFNAMSIZ]; /* resolved: deviceID, else master, else default route */
};

static const struct cni_field mvt_fields[] = {
	{ .key = "master", .kind = CNI_FIELD_STRING, .offset = offsetof(struct mvt_conf, master),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mode", .kind = CNI_FIELD_STRING, .offset = offsetof(struct mvt_conf, mode),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu", .kind = CNI_FIELD_INT, .offset = offsetof(struct mvt_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK, .min = 0, .max = INT_MAX },
	{ .key = "mac", .kind = CNI_FIELD_MAC, .offset = offsetof(struct mvt_conf, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "promiscMode", .kind = CNI_FIELD_BOOL, .offset = offsetof(struct mvt_conf, promisc),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "deviceID", .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct mvt_conf, device_id), .flags = CNI_FIELD_NULL_OK },
	{ .key = "owner", .kind = CNI_FIELD_UINT32, .offset = offsetof(struct mvt_conf, owner),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct mvt_conf, has_owner) },
	{ .key = "group", .kind = CNI_FIELD_UINT32, .offset = offsetof(struct mvt_conf, group),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct mvt_conf, has_group) },
	{ 0 },
};

static const char *const mvt_env_args[] = { "MAC", NULL };

static const struct {
	const char *name;
	uint32_t mode;
} modes[] = {
	{ "bridge", MACVLAN_MODE_BRIDGE },
	{ "private", MACVLAN_MODE_PRIVATE },
	{ "vepa", MACVLAN_MODE_VEPA },
	{ "passthru", MACVLAN_MODE_PASSTHRU },
};

static const char *mode_str(uint32_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "unknown";
}

static void mvt_conf_free(struct mvt_conf *c)
{
	cni_fields_free(mvt_fields, c);
}

static int load_conf(const struct cni_cmd *cmd, struct mvt_conf *c, struct cni_error **err)
{
	const char *env_mac;
	char mac[CNI_MAC_STRLEN];

	if (cni_json_decode(cni_netconf_root(cmd->conf), mvt_fields, c, "", err) < 0)
		return -1;
	if (!c->has_owner)
		c->owner = DEFAULT_OWNER;
	if (!c->has_group)
		c->group = DEFAULT_OWNER;
	c->mode_val = MACVLAN_MODE_BRIDGE;
	if (c->mode && *c->mode) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(modes); i++)
			if (strcmp(c->mode, modes[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(modes))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "unknown macvtap mode: \"%s\"", c->mode);
		c->mode_val = modes[i].mode;
	}
	/* MAC: "mac" < CNI_ARGS MAC < runtimeConfig.mac, as macvlan and tap. */
	env_mac = cni_env_args_get(&cmd->args, "MAC");
	if (env_mac && *env_mac) {
		if (cni_mac_parse(env_mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
					     "CNI_ARGS: invalid MAC address \"%s\"", env_mac);
		free(c->mac);
		c->mac = xstrdup(mac);
	}
	if (cmd->conf->rc.mac && *cmd->conf->rc.mac) {
		if (cni_mac_parse(cmd->conf->rc.mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "runtimeConfig.mac: invalid MAC address \"%s\"",
					     cmd->conf->rc.mac);
		free(c->mac);
		c->mac = xstrdup(mac);
	}
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
					    aux ? c->device_id : NULL, c->master_name, err) < 0)
				return cni_error_wrap(err, "deviceID \"%s\"", c->device_id);
		} else {
			cni_error_free(e);
			if (strlen(c->device_id) >= IFNAMSIZ || strchr(c->device_id, '/'))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
						     "deviceID \"%s\" is neither a PCI/auxiliary "
						     "device nor an interface name",
						     c->device_id);
			snprintf(c->master_name, sizeof(c->master_name), "%s", c->device_id);
		}
	} else if (c->master && *c->master) {
		if (strlen(c->master) >= IFNAMSIZ)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					     "invalid master \"%s\"", c->master);
		snprintf(c->master_name, sizeof(c->master_name), "%s", c->master);
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

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(mvt_conf_free))) struct mvt_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	struct cnl_link master, link;
	struct cni_error *e = NULL;
	char tmp[IFNAMSIZ];
	const char *cur = NULL;
	bool l3 = cmd->conf->ipam_type != NULL;
	bool in_host = false, ipam_done = false;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, mvt_env_args, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    netns_open_current(&host, err) < 0 || l2_master_get(host, c.master_name, &master, err) < 0)
		return -1;
	if ((unsigned int)c.mtu > master.mtu)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must be [0, master MTU(%u)]", c.mtu, master.mtu);
	if (cnl_link_get(cont, cmd->ifname, &link, NULL) == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "container interface \"%s\" already exists", cmd->ifname);

	/*
	 * Born in the host, not in the container: the character device is
	 * named after the ifindex, and /dev is shared by every namespace.
	 * The host's ifindexes are unique, and a link keeps its index when it
	 * moves (unless the container uses it), so /dev/tapN is unique too.
	 */
	temp_name(cmd, tmp);
	(void)l2_link_del_kind(host, tmp, "macvtap", false, NULL);
	if (cnl_link_add(host,
			 &(struct cnl_newlink){ .kind = "macvtap",
						.name = tmp,
						.mtu = (unsigned int)c.mtu,
						.mac = c.mac,
						.parent = master.ifindex,
						.macvlan_mode = c.mode_val },
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
	if ((c.promisc && cnl_link_set_promisc(cont, cmd->ifname, true, err) < 0) ||
	    cnl_link_set_up(cont, cmd->ifname, true, err) < 0 ||
	    cnl_link_get(cont, cmd->ifname, &link, err) < 0 ||
	    chown_tap(link.ifindex, c.owner, c.group, err) < 0)
		goto undo;

	r = cni_result_new();
	cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	if (l3) {
		if (ipam_add(cmd, &ipam, err) < 0)
			goto undo;
		ipam_done = true;
		if (ipam->n_ips == 0) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0, "IPAM plugin returned missing IP config");
			goto undo;
		}
		for (size_t i = 0; i < ipam->n_ips; i++) {
			struct cni_ip *ip = cni_result_add_ip(r);

			*ip = ipam->ips[i];
			ip->interface = 0;
		}
		cni_routes_copy(&r->routes, &ipam->routes);
		cni_dns_copy(&r->dns, &ipam->dns);
		if (ifconfig_apply(cont, cmd->ifname, r, 0,
				   &(struct ifconfig_opts){ .dad = true, .arp_notify = true }, err) < 0)
			goto undo;
	}
	/* The config's DNS, else IPAM's (the reference drops IPAM's, QUIRK #6, as macvlan). */
	if (!cni_dns_is_empty(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	if (ipam_done) {
		struct cni_error *u = NULL;

		(void)ipam_del(cmd, &u);
		cni_error_move(err, &u);
	}
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
	if (cmd->netns_fd >= 0 &&
	    (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	     l2_link_del_kind(cont, tmp, "macvtap", false, err) < 0))
		r = -1;
	return r;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(mvt_conf_free))) struct mvt_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	const struct cni_result *prev;
	struct cnl_link master, link;
	struct stat st;
	char p[32];
	int idx;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, mvt_env_args, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0) ||
	    l2_prev_iface(cmd, "macvtap", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    netns_open_current(&host, err) < 0 ||
	    l2_master_get(host, c.master_name, &master, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "macvtap", &link, err) < 0)
		return -1;
	if (link.macvlan_mode != c.mode_val)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container macvtap mode %s does not match expected value: %s",
				     mode_str(link.macvlan_mode), mode_str(c.mode_val));
	if (*c.master_name && link.link != master.ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not a child of master \"%s\"",
				     link.name, master.name);
	if (c.promisc && !(link.flags & IFF_PROMISC))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not in promiscuous mode",
				     link.name);
	tap_path(link.ifindex, p);
	if (stat(p, &st) < 0)
		return cni_error_errno(err, errno, "character device %s of \"%s\"", p, link.name);
	if (st.st_uid != c.owner || st.st_gid != c.group)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "%s is owned by %u:%u, the config says %u:%u", p,
				     (unsigned int)st.st_uid, (unsigned int)st.st_gid, c.owner,
				     c.group);
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "macvtap",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = ipam_plugin_gc,
	.status = ipam_plugin_status,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
