/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host-device: move an existing link of the host into the container as
 * CNI_IFNAME, and back under its own name on DEL.  Selected by "device",
 * "hwaddr", "kernelpath", "pciBusID" or runtimeConfig.deviceID (PCI or
 * auxiliary bus).  IPAM optional.  A PCI device bound to a userspace
 * (DPDK) driver is not a netdev: it is left where it is and only IPAM runs.
 *
 * The host name travels with the device as its IFLA_IFALIAS while it is in
 * the container, as the reference stores it, so either implementation can
 * take back a device the other moved in.  See docs/host-device.md.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/devmove.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

#define SYSFS_ROOT "/sys"

struct hd_conf {
	char *device;
	char *hwaddr;
	char *kernelpath;
	char *pci;
	char *aux; /* from runtimeConfig.deviceID on the auxiliary bus */
	bool dpdk;
};

static const struct cni_field hd_fields[] = {
	{ .key = "device",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hd_conf, device),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "hwaddr",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hd_conf, hwaddr),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "kernelpath",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hd_conf, kernelpath),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "pciBusID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hd_conf, pci),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void hd_conf_free(struct hd_conf *c)
{
	cni_fields_free(hd_fields, c);
	free(c->aux);
}

static bool set(const char *s)
{
	return s && *s;
}

/* Empty strings are as absent, as Go's zero values in the reference. */
static void drop_empty(char **s)
{
	if (*s && !**s) {
		free(*s);
		*s = NULL;
	}
}

static int load_conf(const struct cni_cmd *cmd, struct hd_conf *c, struct cni_error **err)
{
	const char *id = cmd->conf->rc.device_id;
	uint8_t mac[6];

	if (cni_json_decode(cni_netconf_root(cmd->conf), hd_fields, c, "", err) < 0)
		return -1;
	drop_empty(&c->device);
	drop_empty(&c->hwaddr);
	drop_empty(&c->kernelpath);
	drop_empty(&c->pci);
	if (set(id)) {
		bool aux;

		if (dm_sysfs_device_id(SYSFS_ROOT, id, &aux, err) < 0)
			return -1;
		free(c->pci);
		c->pci = NULL;
		if (aux)
			c->aux = xstrdup(id);
		else
			c->pci = xstrdup(id);
	}
	if (!c->device && !c->hwaddr && !c->kernelpath && !c->pci && !c->aux)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "specify either \"device\", \"hwaddr\", \"kernelpath\" or "
				     "\"pciBusID\"");
	if (c->device && (strlen(c->device) >= IFNAMSIZ || strchr(c->device, '/')))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "invalid device name \"%s\"", c->device);
	if (c->hwaddr && cnl_mac_parse(c->hwaddr, mac) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "failed to parse MAC address \"%s\"", c->hwaddr);
	if (c->pci && dm_sysfs_pci_dpdk(SYSFS_ROOT, c->pci, &c->dpdk, err) < 0)
		return -1;
	return 0;
}

/* The host link the config names, by the reference's precedence. */
static int resolve(struct netns *host, const struct hd_conf *c, struct cnl_link *ret,
		   struct cni_error **err)
{
	char name[IFNAMSIZ];

	if (c->device) {
		if (cnl_link_get(host, c->device, ret, err) < 0)
			return cni_error_wrap(err, "failed to find host device");
		return 0;
	}
	if (c->hwaddr) {
		if (dm_link_find_mac(host, c->hwaddr, ret, err) < 0)
			return cni_error_wrap(err, "failed to find host device");
		return 0;
	}
	if (dm_sysfs_netdev(SYSFS_ROOT, c->kernelpath, c->kernelpath ? NULL : c->pci,
			    c->kernelpath || c->pci ? NULL : c->aux, name, err) < 0 ||
	    cnl_link_get(host, name, ret, err) < 0)
		return cni_error_wrap(err, "failed to find host device");
	return 0;
}

static bool link_exists(struct netns *ns, const char *name)
{
	struct cnl_link l;

	return cnl_link_get(ns, name, &l, NULL) == 0;
}

/*
 * Take link cur (in the container) back to the host as hostname: down,
 * renamed there to hostname (or a temporary name if the container has a
 * hostname of its own), moved with hostname as the name to take in the
 * host (some kernels apply it always, as 6.18 does, others only on a clash),
 * renamed in the host if it arrived under another name, alias set to
 * restore_alias.  If the host has a hostname by now, the device stays in
 * the container and this fails.
 */
static int move_out(struct netns *cont, struct netns *host, const char *cur, const char *hostname,
		    const char *restore_alias, struct cni_error **err)
{
	char tmp[IFNAMSIZ];
	const char *travel = hostname;
	struct cni_error *e = NULL;
	struct cnl_link l;

	l2_temp_name(cont, hostname, tmp);
	if (link_exists(host, hostname))
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "cannot return device \"%s\" to the host as \"%s\": the host "
				     "has a link of that name",
				     cur, hostname);
	if (cnl_link_set_up(cont, cur, false, err) < 0)
		return -1;
	if (strcmp(cur, hostname) != 0 && cnl_link_rename(cont, cur, hostname, &e) < 0) {
		if (e->errnum != EEXIST)
			return cni_error_move(err, &e);
		cni_error_free(e);
		e = NULL;
		if (cnl_link_rename(cont, cur, tmp, err) < 0)
			return -1;
		travel = tmp;
	}
	if (cnl_link_get(cont, travel, &l, &e) < 0 ||
	    dm_link_move(cont, l.ifindex, travel, host, hostname, &e) < 0) {
		if (strcmp(travel, cur) != 0)
			(void)cnl_link_rename(cont, travel, cur, NULL);
		return cni_error_move(err, &e);
	}
	if (strcmp(travel, hostname) != 0 && link_exists(host, travel) &&
	    cnl_link_rename(host, travel, hostname, err) < 0)
		return -1;
	if (cnl_link_get(host, hostname, &l, err) < 0)
		return -1;
	return dm_link_set_alias(host, l.ifindex, hostname, restore_alias, err);
}

/*
 * Move hdev into the container as ifname, alias set to its host name
 * (old_alias gets the alias it had, for a later rollback).  On failure the
 * device is back in the host as it was (name, alias, up).
 */
static int move_in(struct netns *host, struct netns *cont, const struct cnl_link *hdev,
		   const char *ifname, struct cnl_link *ret, char old_alias[DM_ALIAS_MAX],
		   struct cni_error **err)
{
	char tmp[IFNAMSIZ];
	struct cni_error *e = NULL, *u = NULL;
	struct cnl_link l;
	const char *cur;

	if (link_exists(cont, ifname))
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "container interface \"%s\" already exists", ifname);
	if (dm_link_get_alias(host, NULL, hdev->ifindex, &l, old_alias, err) < 0 ||
	    dm_link_set_alias(host, hdev->ifindex, hdev->name, hdev->name, err) < 0)
		return -1;
	/*
	 * The name to take in the container is our temporary one, never
	 * CNI_IFNAME itself: older kernels apply it only when the link's own
	 * name is taken there, newer ones always, and a link must be renamed
	 * inside anyway.
	 */
	l2_temp_name(cont, ifname, tmp);
	if (dm_link_move(host, hdev->ifindex, hdev->name, cont, tmp, &e) < 0)
		goto undo_alias;
	cur = tmp;
	if (cnl_link_get(cont, tmp, &l, &e) < 0) {
		if (!cnl_not_found(e))
			goto undo_move;
		cni_error_free(e);
		e = NULL;
		cur = hdev->name;
	}
	if (cnl_link_rename(cont, cur, ifname, &e) < 0)
		goto undo_move;
	cur = ifname;
	if (cnl_link_set_up(cont, ifname, true, &e) < 0 || cnl_link_get(cont, ifname, ret, &e) < 0)
		goto undo_move;
	return 0;

undo_move:
	/* Whichever name it has by now (a lookup may be what failed). */
	{
		const char *names[] = { cur, tmp, hdev->name, ifname };

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char a[DM_ALIAS_MAX];

			if (dm_link_get_alias(cont, names[i], 0, &l, a, NULL) < 0 ||
			    strcmp(a, hdev->name) != 0)
				continue;
			(void)move_out(cont, host, names[i], hdev->name, old_alias, &u);
			break;
		}
	}
	if (!u && cnl_link_is_up(hdev))
		(void)cnl_link_set_up(host, hdev->name, true, &u);
	cni_error_move(&e, &u);
	return cni_error_move(err, &e);
undo_alias:
	(void)dm_link_set_alias(host, hdev->ifindex, hdev->name, old_alias, &u);
	cni_error_move(&e, &u);
	return cni_error_move(err, &e);
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(hd_conf_free))) struct hd_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	char old_alias[DM_ALIAS_MAX] = "";
	struct cnl_link hdev, link;
	bool l3 = cmd->conf->ipam_type != NULL;
	bool moved = false, ipam_done = false;

	if (load_conf(cmd, &c, err) < 0 || (l3 && l2_env_args_check(cmd, NULL, err) < 0) ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    netns_open_current(&host, err) < 0)
		return -1;
	r = cni_result_new();
	if (c.dpdk) {
		cni_result_add_iface(r, cmd->ifname, NULL, cmd->netns);
	} else {
		if (resolve(host, &c, &hdev, err) < 0)
			return -1;
		if (move_in(host, cont, &hdev, cmd->ifname, &link, old_alias, err) < 0)
			return cni_error_wrap(err, "failed to move link");
		moved = true;
		cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	}
	if (l3 && (l2_ipam_add(cmd, r, &ipam_done, err) < 0 ||
		   (!c.dpdk && ifconfig_apply(cont, cmd->ifname, r, 0,
					      &(struct ifconfig_opts){ .dad = true }, err) < 0)))
		goto undo;
	/*
	 * The config's DNS, else IPAM's (the reference drops IPAM's, QUIRK #6,
	 * as macvlan); without IPAM none, as the reference.
	 */
	if (l3 && !cni_dns_is_empty(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/* Reverse order; each step's own failure goes into the details of *err. */
	if (ipam_done)
		(void)ipam_del(cmd, err);
	if (moved) {
		struct cni_error *u = NULL;

		if (move_out(cont, host, cmd->ifname, hdev.name, old_alias, &u) == 0 &&
		    cnl_link_is_up(&hdev))
			(void)cnl_link_set_up(host, hdev.name, true, &u);
		cni_error_move(err, &u);
	}
	return -1;
}

/*
 * A device whose container went away without a DEL: the kernel hands a
 * physical device back to the initial namespace, under its container name
 * or "dev<ifindex>" when that is taken, and it keeps our alias.  Find the
 * one this config names and give it its name back.  Only a link whose name
 * is one the kernel (or we) gave it is renamed: an operator's alias on an
 * unrelated link is never taken for a name.
 */
static int recover(const struct cni_cmd *cmd, struct netns *host, const struct hd_conf *c,
		   struct cni_error **err)
{
	char alias[DM_ALIAS_MAX], devn[IFNAMSIZ];
	struct cni_error *e = NULL;
	struct cnl_link l;

	if (c->device && !link_exists(host, c->device)) {
		if (dm_link_find_alias(host, c->device, &l, err) < 0)
			return -1;
		if (!l.ifindex)
			return 0;
	} else if (resolve(host, c, &l, &e) < 0) {
		cni_error_free(e); /* not in this namespace: nothing to recover here */
		return 0;
	}
	if (dm_link_get_alias(host, NULL, l.ifindex, &l, alias, err) < 0)
		return -1;
	/*
	 * In the node under its own name, its alias that name: an ADD killed
	 * before the move, or the reference's DEL (1.1.x leaves it).  Tidy up.
	 */
	if (strcmp(alias, l.name) == 0)
		return dm_link_set_alias(host, l.ifindex, l.name, "", err);
	snprintf(devn, sizeof(devn), "dev%d", l.ifindex);
	if (!*alias || strlen(alias) >= IFNAMSIZ || strchr(alias, '/') || strchr(alias, ' ') ||
	    (strcmp(l.name, cmd->ifname) != 0 && strcmp(l.name, devn) != 0))
		return 0;
	if (link_exists(host, alias))
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "device \"%s\" came back as \"%s\" but the host has a \"%s\"",
				     alias, l.name, alias);
	if (cnl_link_set_up(host, l.name, false, err) < 0 ||
	    cnl_link_rename(host, l.name, alias, err) < 0 ||
	    dm_link_set_alias(host, l.ifindex, alias, "", err) < 0)
		return -1;
	return 0;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(hd_conf_free))) struct hd_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	char alias[DM_ALIAS_MAX];
	struct cni_error *e = NULL;
	struct cnl_link l;
	bool found = false;
	int r = 0;

	/* Best effort: IPAM first and whatever else fails, as the reference (which stops). */
	if (cmd->conf->ipam_type && ipam_del(cmd, err) < 0)
		r = -1;
	if (load_conf(cmd, &c, &e) < 0) {
		/* A deviceID whose device is gone: nothing of it to move back, IPAM is done. */
		cni_error_free(e);
		return r;
	}
	if (c.dpdk)
		return r;
	if (netns_open_current(&host, err) < 0)
		return -1;
	if (cmd->netns_fd >= 0) {
		char tmp[IFNAMSIZ], byalias[IFNAMSIZ] = "";
		const char *names[3] = { cmd->ifname, tmp, byalias };

		if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0)
			return -1;
		/*
		 * CNI_IFNAME, or where an ADD killed half way left it: under our
		 * temporary name, or (kernels that keep the name on a move) its
		 * host name, which only a "device" config tells.
		 */
		l2_temp_name(cont, cmd->ifname, tmp);
		if (c.device && dm_link_find_alias(cont, c.device, &l, &e) == 0 && l.ifindex)
			memcpy(byalias, l.name, sizeof(byalias));
		cni_error_freep(&e);
		for (size_t i = 0; i < ARRAY_SIZE(names) && !found; i++) {
			if (!*names[i])
				continue;
			if (dm_link_get_alias(cont, names[i], 0, &l, alias, &e) < 0) {
				if (!cnl_not_found(e))
					r = cni_error_move(err, &e);
				cni_error_freep(&e);
				continue;
			}
			/* Without an alias it is not a device we moved in: leave it alone. */
			if (!*alias)
				continue;
			found = true;
			if (strlen(alias) >= IFNAMSIZ)
				return cni_error_set(err, CNI_ERR_INTERNAL, EINVAL,
						     "alias \"%s\" of \"%s\" is not an interface name",
						     alias, names[i]);
			if (move_out(cont, host, names[i], alias, "", err) < 0)
				r = -1;
		}
	}
	if (!found && recover(cmd, host, &c, err) < 0)
		r = -1;
	return r;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(hd_conf_free))) struct hd_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	const struct cni_result *prev;
	const struct cni_iface *f;
	char alias[DM_ALIAS_MAX], want[CNI_MAC_STRLEN];
	struct cni_error *e = NULL;
	struct cnl_link l;
	int idx;

	if (load_conf(cmd, &c, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0))
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Required prevResult missing");
	if (c.dpdk)
		return 0;
	if (l2_prev_iface(cmd, "host-device", &prev, &idx, err) < 0)
		return -1;
	f = &prev->ifaces[idx];
	if (dm_link_get_alias(cont, f->name, 0, &l, alias, &e) < 0) {
		if (!cnl_not_found(e))
			return cni_error_move(err, &e);
		cni_error_free(e);
		return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
				     "Container Interface name in prevResult: %s not found", f->name);
	}
	if (!*alias)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" carries no host name (alias): not a "
				     "moved host device",
				     f->name);
	if (f->mac && *f->mac && (cni_mac_parse(f->mac, want) < 0 || strcmp(want, l.mac) != 0))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Interface %s Mac %s doesn't match container Mac: %s", f->name,
				     f->mac, l.mac);
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "host-device",
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
