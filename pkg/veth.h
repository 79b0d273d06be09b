/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A veth pair between a container netns and the host netns, created in one
 * RTM_NEWLINK: the container end is born inside the container (so its name
 * can never clash on the host) and the host end is born in the host netns.
 * The host end gets accept_ra=0 before it is brought up (CVE-2020-10749: a
 * container must not be able to feed router advertisements to the host),
 * then it is set up.  The container end is left down (ifconfig_apply brings
 * it up after the addresses are on).
 */
#ifndef CNIC_VETH_H
#define CNIC_VETH_H

#include <net/if.h>

#include "error.h"
#include "link.h"
#include "netns.h"

struct veth_spec {
	const char *ifname;    /* container end (CNI_IFNAME) */
	unsigned int mtu;      /* both ends; 0: kernel default */
	const char *mac;       /* container end; NULL: random */
	const char *host_name; /* NULL: "veth" + 8 random hex digits, retried on a clash */
	int host_master;       /* enslave the host end at birth (bridge ifindex); 0: none */
	const char *host_mac;  /* host end; NULL: random (kernel) */
};

struct veth_pair {
	char host_name[IFNAMSIZ];
	int host_ifindex;
	char host_mac[CNL_MAC_STRLEN];
	int cont_ifindex;
	char cont_mac[CNL_MAC_STRLEN];
};

/*
 * Create the pair.  An existing CNI_IFNAME in the container gives
 * "container interface \"eth0\" already exists" (code 999 with errnum
 * EEXIST) and creates nothing.  On any failure nothing is left behind.
 */
int veth_setup(struct netns *host, struct netns *container, const struct veth_spec *spec,
	       struct veth_pair *ret, struct cni_error **err);

/*
 * Delete the container end (the host end goes with it).  Returns 1 when
 * deleted, 0 when there was nothing to delete.
 */
int veth_teardown(struct netns *container, const char *ifname, struct cni_error **err);

#endif
