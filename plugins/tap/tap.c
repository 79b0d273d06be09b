/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap: a persistent tap device created in the container netns as
 * CNI_IFNAME, for a VM monitor (Kata, KubeVirt, Firecracker) to attach to.
 * Keys: mac, mtu, multiQueue, owner, group, bridge (enslave it to a bridge
 * in the container), selinuxContext, ipam (optional), dns; MAC also from
 * CNI_ARGS and runtimeConfig.  See docs/tap.md.
 *
 * The device is made with the TUNSETIFF ioctl on /dev/net/tun opened inside
 * the container netns (the kernel does not create tun devices over
 * rtnetlink), never by exec'ing ip(8) as the reference does when owner or
 * group is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../ipam/ipam.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

struct tap_conf {
	struct l2_conf l2;
	bool multi_queue;
	uint32_t owner, group;
	bool has_owner, has_group;
	char *selinux_context;
	char *bridge;
};

static const struct cni_field tap_fields[] = {
	{ .key = "multiQueue",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct tap_conf, multi_queue),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "owner",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct tap_conf, owner),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct tap_conf, has_owner) },
	{ .key = "group",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct tap_conf, group),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .present = offsetof(struct tap_conf, has_group) },
	{ .key = "selinuxContext",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct tap_conf, selinux_context),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "bridge",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct tap_conf, bridge),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const char *const tap_env_args[] = { "MAC", NULL };

static l2_load_fn load_conf;
static l2_create_fn create;
static l2_check_fn check_tap;

static const struct l2_ops ops = {
	.plugin = "tap",
	.kind = "tun",
	.keys = L2_KEY_MTU | L2_KEY_MAC,
	.env_args = tap_env_args,
	.no_master = true,
	.dns = L2_DNS_CONFIG_IF_ANY,
	.ifconfig = { .dad = true, .arp_notify = true },
	.create = create,
	.check = check_tap,
	.conf_size = sizeof(struct tap_conf),
	.fields = tap_fields,
	.load = load_conf,
};

/* SELinux is on when selinuxfs is mounted (libselinux's is_selinux_enabled test). */
static bool selinux_enabled(void)
{
	struct stat st;

	return stat("/sys/fs/selinux/enforce", &st) == 0;
}

/* What the keys cannot say: a bridge name, an SELinux context we could not honour. */
static int load_conf(const struct cni_cmd *cmd, struct l2_conf *l2, bool add, struct cni_error **err)
{
	const struct tap_conf *c = (const struct tap_conf *)l2;

	if (c->bridge && (strlen(c->bridge) >= IFNAMSIZ || strchr(c->bridge, '/')))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "invalid bridge name \"%s\"", c->bridge);
	/*
	 * The reference labels the device by exec'ing ip(8) under the context.
	 * We create it in-process, so on a host that enforces SELinux the label
	 * could not be honoured: refuse rather than make an unlabelled device.
	 */
	if (c->selinux_context && *c->selinux_context && selinux_enabled())
		return cni_error_set(err, CNI_ERR_UNSUPPORTED_FIELD, 0,
				     "selinuxContext \"%s\": labelling tap devices is not supported "
				     "on this SELinux host",
				     c->selinux_context);
	return 0;
}

struct tap_args {
	const char *name;
	const struct tap_conf *c;
};

/* Runs inside the container netns: the tun fd's namespace is where the device is born. */
static int create_tap(void *arg, struct cni_error **err)
{
	const struct tap_args *a = arg;
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd, r = -1;

	if (a->c->multi_queue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cni_error_errno(err, errno, "failed to create tap: open /dev/net/tun");
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		cni_error_errno(err, errno, "failed to create tap \"%s\"", a->name);
	} else if (a->c->has_owner && ioctl(fd, TUNSETOWNER, (unsigned long)a->c->owner) < 0) {
		cni_error_errno(err, errno, "failed to set owner %u of tap \"%s\"", a->c->owner,
				a->name);
	} else if (a->c->has_group && ioctl(fd, TUNSETGROUP, (unsigned long)a->c->group) < 0) {
		cni_error_errno(err, errno, "failed to set group %u of tap \"%s\"", a->c->group,
				a->name);
	} else if (ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		cni_error_errno(err, errno, "failed to make tap \"%s\" persistent", a->name);
	} else {
		r = 0;
	}
	/* Not yet persistent: closing the fd destroys the device. */
	close(fd);
	return r;
}

/* The tap, configured, as ifname; on failure nothing is left. */
static int make_tap(struct netns *cont, const struct tap_conf *c, const char *ifname,
		    int bridge_idx, struct cnl_link *ret, struct cni_error **err)
{
	char tmp[IFNAMSIZ];
	struct cni_error *e = NULL;
	const char *cur;

	/*
	 * TUNSETIFF attaches to a tap that already has the name: create under
	 * a temporary one, fixed for this netns and ifname so that DEL finds
	 * it if we die before the rename, and clear a leftover first.
	 */
	l2_temp_name(cont, ifname, tmp);
	if (l2_link_del_kind(cont, tmp, "tun", false, err) < 0 ||
	    netns_run(cont, create_tap, &(struct tap_args){ .name = tmp, .c = c }, err) < 0)
		return -1;
	cur = tmp;
	if ((c->l2.mtu && cnl_link_set_mtu(cont, tmp, (unsigned int)c->l2.mtu, err) < 0) ||
	    (c->l2.mac && cnl_link_set_mac(cont, tmp, c->l2.mac, err) < 0))
		goto fail;
	if (cnl_link_rename(cont, tmp, ifname, &e) < 0) {
		if (e->errnum == EEXIST) {
			cni_error_free(e);
			e = NULL;
			cni_error_set(&e, CNI_ERR_INTERNAL, EEXIST,
				      "container interface \"%s\" already exists", ifname);
		}
		cni_error_move(err, &e);
		goto fail;
	}
	cur = ifname;
	if ((bridge_idx > 0 && cnl_link_set_master(cont, ifname, bridge_idx, err) < 0) ||
	    cnl_link_set_up(cont, ifname, true, err) < 0 || cnl_link_get(cont, ifname, ret, err) < 0)
		goto fail;
	return 0;
fail:
	(void)cnl_link_del(cont, cur, NULL);
	return -1;
}

static int bridge_get(struct netns *cont, const char *name, struct cnl_link *ret,
		      struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (cnl_link_get(cont, name, ret, &e) < 0) {
		if (!cnl_not_found(e))
			return cni_error_move(err, &e);
		cni_error_free(e);
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				     "failed to get bridge %s: no such link in netns \"%s\"", name,
				     cont->path);
	}
	if (strcmp(ret->kind, "bridge") != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "\"%s\" in netns \"%s\" is not a bridge", name, cont->path);
	return 0;
}

/* The tap as CNI_IFNAME in cont, a port of the configured bridge there. */
static int create(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *mns,
		  struct netns *cont, const struct cnl_link *master, struct cnl_link *ret,
		  struct cni_error **err)
{
	const struct tap_conf *t = (const struct tap_conf *)c;
	struct cnl_link br = { .ifindex = 0 };

	if (t->bridge && *t->bridge && bridge_get(cont, t->bridge, &br, err) < 0)
		return -1;
	if (cnl_link_get(cont, cmd->ifname, ret, NULL) == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "container interface \"%s\" already exists", cmd->ifname);
	return make_tap(cont, t, cmd->ifname, br.ifindex, ret, err);
}

static int check_tap(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		     const struct cnl_link *link, const struct cnl_link *master,
		     struct cni_error **err)
{
	const struct tap_conf *t = (const struct tap_conf *)c;
	struct cnl_link br;

	if (c->mtu && link->mtu != (unsigned int)c->mtu)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "tap \"%s\" MTU %u does not match the config's %d", link->name,
				     link->mtu, c->mtu);
	if (t->bridge && *t->bridge) {
		if (bridge_get(cont, t->bridge, &br, err) < 0)
			return -1;
		if (link->master != br.ifindex)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "tap \"%s\" is not a port of bridge \"%s\"",
					     link->name, t->bridge);
	}
	return 0;
}

int main(void)
{
	return l2_plugin_main(&ops);
}
