/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "sysctl.h"
#include "veth.h"

/* As the reference's makeVeth: a random host name can clash; try a few. */
#define VETH_NAME_TRIES 10

static void random_name(char ret[IFNAMSIZ])
{
	uint8_t b[4];

	cnic_random(b, sizeof(b));
	snprintf(ret, IFNAMSIZ, "veth%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

/* Best effort removal of a pair created by veth_setup (the error, if any, is the caller's). */
static void undo(struct netns *host, const char *host_name)
{
	struct cni_error *e = NULL;

	if (cnl_link_del(host, host_name, &e) < 0) {
		cni_log("rollback: %s", e->msg);
		cni_error_free(e);
	}
}

int veth_setup(struct netns *host, struct netns *container, const struct veth_spec *spec,
	       struct veth_pair *ret, struct cni_error **err)
{
	char name[IFNAMSIZ], cmac[CNL_MAC_STRLEN];
	struct veth_pair p = { .host_ifindex = 0 };
	struct cnl_link hl;
	cleanup_free char *ra = NULL;
	int tries = spec->host_name ? 1 : VETH_NAME_TRIES;
	uint8_t hw[6];

	/*
	 * Choosing the container's MAC here (as the kernel would: random,
	 * locally administered) means we know it without asking the container.
	 */
	if (spec->mac) {
		if (cnl_mac_parse(spec->mac, hw) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					     "invalid MAC address \"%s\"", spec->mac);
		cnl_mac_format(hw, cmac);
	} else {
		cnl_mac_random(cmac);
	}

	for (int i = 0;; i++) {
		struct cni_error *e = NULL;
		struct cnl_link existing;

		if (spec->host_name)
			snprintf(name, sizeof(name), "%s", spec->host_name);
		else
			random_name(name);
		/*
		 * The host end is the link of the request, made through the host's
		 * socket, so it can be enslaved at birth; the container end is the
		 * peer, born inside the container under its final name.
		 */
		if (cnl_link_add(host,
				 &(struct cnl_newlink){
					 .kind = "veth",
					 .name = name,
					 .mtu = spec->mtu,
					 .mac = spec->host_mac,
					 .master = spec->host_master,
					 .echo = &hl,
					 .peer = { .name = spec->ifname,
						   .mtu = spec->mtu,
						   .mac = cmac,
						   .netns = container },
				 },
				 &e) == 0)
			break;
		if (!e || e->errnum != EEXIST) {
			cni_error_move(err, &e);
			return -1;
		}
		/* EEXIST: which of the two names is taken? */
		if (cnl_link_get(container, spec->ifname, &existing, NULL) == 0) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
					     "container interface \"%s\" already exists",
					     spec->ifname);
		}
		if (i + 1 >= tries) {
			cni_error_move(err, &e);
			return cni_error_wrap(err, "host veth name \"%s\" (%d tries)", name, tries);
		}
		cni_error_free(e);
	}

	/*
	 * CVE-2020-10749: a container must not steer the host with router
	 * advertisements; set before the link is up so there is no window.
	 * As the reference, failure is not fatal (no IPv6 in the host).
	 */
	ra = xasprintf("net/ipv6/conf/%s/accept_ra", name);
	{
		struct cni_error *e = NULL;

		if (sysctl_set_net(host, ra, "0", &e) < 0) {
			cni_log("%s", e->msg);
			cni_error_free(e);
		}
	}
	/*
	 * The echo of the creation is the host end, and its IFLA_LINK is the
	 * container end's ifindex: no question to the container at all.  Only
	 * an old kernel (no echo) makes us ask.
	 */
	if (cnl_link_set_up(host, name, true, err) < 0 ||
	    (hl.ifindex <= 0 && cnl_link_get(host, name, &hl, err) < 0)) {
		undo(host, name);
		return -1;
	}
	if (hl.link <= 0) {
		struct cnl_link cl;

		if (cnl_link_get(container, spec->ifname, &cl, err) < 0) {
			undo(host, name);
			return -1;
		}
		hl.link = cl.ifindex;
	}
	snprintf(p.host_name, sizeof(p.host_name), "%s", name);
	p.host_ifindex = hl.ifindex;
	snprintf(p.host_mac, sizeof(p.host_mac), "%s", hl.mac);
	p.cont_ifindex = hl.link;
	snprintf(p.cont_mac, sizeof(p.cont_mac), "%s", cmac);
	*ret = p;
	return 0;
}

int veth_teardown(struct netns *container, const char *ifname, struct cni_error **err)
{
	return cnl_link_del(container, ifname, err);
}
