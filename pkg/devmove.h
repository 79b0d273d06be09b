/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Moving existing links between namespaces (host-device, macvtap), their
 * IFLA_IFALIAS (where host-device keeps a device's host name while it is in
 * a container, as the reference does), lookups by MAC, and the sysfs
 * resolvers of host-device's kernelpath / pciBusID / deviceID selectors.
 *
 * The sysfs functions take the sysfs root as a parameter ("/sys" in the
 * plugins) so the unit tests can run them against a fake tree.
 */
#ifndef CNIC_DEVMOVE_H
#define CNIC_DEVMOVE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "link.h"
#include "netns.h"

/* The kernel's IFALIASZ. */
#define DM_ALIAS_MAX 256

/*
 * Move link ifindex of from into to (RTM_SETLINK + IFLA_NET_NS_FD).  The
 * kernel keeps the name unless it is taken in to; then it names the link
 * pat instead (a plain name, EEXIST if that is taken too; NULL: EEXIST);
 * some kernels (6.18 here) give it pat even without a clash.
 * name is for messages.  The kernel brings the link down on the way.
 */
int dm_link_move(struct netns *from, int ifindex, const char *name, struct netns *to,
		 const char *pat, struct cni_error **err);

/* Set ifindex's alias ("" removes it). */
int dm_link_set_alias(struct netns *ns, int ifindex, const char *name, const char *alias,
		      struct cni_error **err);

/*
 * The link ifname (or, with ifname NULL, ifindex) and its alias ("" when it
 * has none).  Not found: ENODEV, as cnl_link_get.
 */
int dm_link_get_alias(struct netns *ns, const char *ifname, int ifindex, struct cnl_link *ret,
		      char alias[DM_ALIAS_MAX], struct cni_error **err);

/*
 * The first link of ns whose hardware address is mac (any case, ':' or
 * '-'), in ifindex order.  None: code 7, errnum ENODEV.
 */
int dm_link_find_mac(struct netns *ns, const char *mac, struct cnl_link *ret, struct cni_error **err);

/* ---- sysfs ------------------------------------------------------------- */

/*
 * runtimeConfig.deviceID: a device under <root>/bus/pci/devices (*is_aux
 * false) or else <root>/bus/auxiliary/devices (*is_aux true); neither:
 * code 7 "runtime config DeviceID X not found or unsupported".
 */
int dm_sysfs_device_id(const char *root, const char *id, bool *is_aux, struct cni_error **err);

/*
 * The netdev of a device: the first entry (in name order) of
 *   kernelpath:  <root>/<kernelpath minus "/sys/">/net (kernelpath must be
 *                absolute, start with /sys/devices/, no "." or ".." parts)
 *   pci:         <root>/bus/pci/devices/<pci>/net, else .../virtio<N>/net
 *   aux:         <root>/bus/auxiliary/devices/<aux>/net
 * Exactly one of them is non-NULL.  Errors are code 7 naming the path.
 */
int dm_sysfs_netdev(const char *root, const char *kernelpath, const char *pci, const char *aux,
		    char ret[IFNAMSIZ], struct cni_error **err);

/*
 * Is the PCI device bound to a userspace (DPDK) driver: vfio-pci,
 * uio_pci_generic or igb_uio?  A device without a driver is not; a missing
 * device is an error (code 7).
 */
int dm_sysfs_pci_dpdk(const char *root, const char *pci, bool *ret, struct cni_error **err);

/*
 * The first link of ns whose alias is alias.  None: 0 and ret->ifindex 0.
 */
int dm_link_find_alias(struct netns *ns, const char *alias, struct cnl_link *ret,
		       struct cni_error **err);

#endif
