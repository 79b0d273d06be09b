/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "devmove.h"
#include "rtnl.h"

int dm_link_move(struct netns *from, int ifindex, const char *name, struct netns *to,
		 const char *pat, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_SETLINK, 0, &ifi, sizeof(ifi));

	/* With IFLA_NET_NS_FD, IFLA_IFNAME is only the name to take on a clash in the target. */
	if (nla_put_u32(msg, IFLA_NET_NS_FD, (uint32_t)to->fd) < 0 ||
	    (pat && nla_put_string(msg, IFLA_IFNAME, pat) < 0))
		return cnl_put_failed(err, "move link");
	return cnl_request(from, msg, NULL, NULL, err, "move link \"%s\" from netns \"%s\" to \"%s\"",
			   name, from->path, to->path);
}

int dm_link_set_alias(struct netns *ns, int ifindex, const char *name, const char *alias,
		      struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_SETLINK, 0, &ifi, sizeof(ifi));

	/* A zero-length IFLA_IFALIAS clears it (nla_put_string would send the NUL). */
	if (nla_put(msg, IFLA_IFALIAS, (int)strlen(alias), alias) < 0)
		return cnl_put_failed(err, "set alias");
	return cnl_request(ns, msg, NULL, NULL, err,
			   "set alias \"%s\" on link \"%s\" in netns \"%s\"", alias, name, ns->path);
}

struct alias_answer {
	int ifindex;
	char *alias;
};

static int parse_alias(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct alias_answer *a = arg;
	struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	ifi = nlmsg_data(nlh);
	a->ifindex = ifi->ifi_index;
	a->alias[0] = '\0';
	if (tb[IFLA_IFALIAS]) {
		size_t n = (size_t)nla_len(tb[IFLA_IFALIAS]);

		if (n >= DM_ALIAS_MAX)
			n = DM_ALIAS_MAX - 1;
		memcpy(a->alias, nla_data(tb[IFLA_IFALIAS]), n);
		a->alias[n] = '\0';
	}
	return 0;
}

int dm_link_get_alias(struct netns *ns, const char *ifname, int ifindex, struct cnl_link *ret,
		      char alias[DM_ALIAS_MAX], struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifname ? 0 : ifindex };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, 0, &ifi, sizeof(ifi));
	struct alias_answer a = { .ifindex = 0, .alias = alias };

	if ((ifname && nla_put_string(msg, IFLA_IFNAME, ifname) < 0) ||
	    nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return cnl_put_failed(err, "get link");
	if (cnl_request(ns, msg, parse_alias, &a, err, "link \"%s\" in netns \"%s\"",
			ifname ? ifname : "?", ns->path) < 0)
		return -1;
	if (a.ifindex <= 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO,
				     "link in netns \"%s\": no answer from the kernel", ns->path);
	return cnl_link_get_by_index(ns, a.ifindex, ret, err);
}

struct mac_search {
	uint8_t mac[6];
	int ifindex;
};

static int parse_mac(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct mac_search *s = arg;
	struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;

	if (nlh->nlmsg_type != RTM_NEWLINK || s->ifindex > 0)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	ifi = nlmsg_data(nlh);
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6 &&
	    memcmp(nla_data(tb[IFLA_ADDRESS]), s->mac, 6) == 0)
		s->ifindex = ifi->ifi_index;
	return 0;
}

static void reset_mac(void *arg)
{
	((struct mac_search *)arg)->ifindex = 0;
}

int dm_link_find_mac(struct netns *ns, const char *mac, struct cnl_link *ret, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	struct mac_search s = { .ifindex = 0 };
	struct cnl_sock *sk;

	if (cnl_mac_parse(mac, s.mac) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "failed to parse MAC address \"%s\"", mac);
	if (nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return cnl_put_failed(err, "list links");
	if (cnl_sock_get(ns, &sk, err) < 0 || cnl_dump(sk, msg, parse_mac, reset_mac, &s, err) < 0)
		return cni_error_wrap(err, "list links in netns \"%s\"", ns->path);
	if (s.ifindex <= 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				     "no link with hardware address %s in netns \"%s\"", mac,
				     ns->path);
	return cnl_link_get_by_index(ns, s.ifindex, ret, err);
}

/* ---- sysfs ------------------------------------------------------------- */

/*
 * A PCI address or auxiliary device name as a path component: 1..63 chars,
 * no '/', not "." or "..".  what names the key in the error (code 7).
 */
static int sysfs_id_check(const char *id, const char *what, struct cni_error **err)
{
	size_t n = strlen(id);

	if (n == 0 || n > 63 || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "invalid %s \"%s\"", what,
				     id);
	return 0;
}

int dm_sysfs_device_id(const char *root, const char *id, bool *is_aux, struct cni_error **err)
{
	char p[PATH_MAX];
	struct stat st;

	if (sysfs_id_check(id, "runtimeConfig.deviceID", err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, id);
	if (stat(p, &st) == 0) {
		*is_aux = false;
		return 0;
	}
	snprintf(p, sizeof(p), "%s/bus/auxiliary/devices/%s", root, id);
	if (stat(p, &st) == 0) {
		*is_aux = true;
		return 0;
	}
	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
			     "runtime config DeviceID %s not found or unsupported", id);
}

/* The first entry of dir in name order (what Go's os.ReadDir returns first). */
static int first_entry(const char *dir, char ret[IFNAMSIZ], struct cni_error **err)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	int r = -1;

	if (n < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, errno,
				     "failed to read directory %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (r < 0 && list[i]->d_name[0] != '.' && len < IFNAMSIZ) {
			memcpy(ret, list[i]->d_name, len + 1);
			r = 0;
		}
		free(list[i]);
	}
	free(list);
	if (r < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				     "failed to find network device in path %s", dir);
	return 0;
}

static bool kernelpath_ok(const char *kp)
{
	const char *c = kp;

	if (strncmp(kp, "/sys/devices/", 13) != 0)
		return false;
	/* No "." or ".." component: the path must stay under /sys/devices. */
	while ((c = strchr(c, '/'))) {
		c++;
		if ((c[0] == '.' && (c[1] == '/' || c[1] == '\0')) ||
		    (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0')))
			return false;
	}
	return true;
}

int dm_sysfs_netdev(const char *root, const char *kernelpath, const char *pci, const char *aux,
		    char ret[IFNAMSIZ], struct cni_error **err)
{
	char p[PATH_MAX];
	struct stat st;

	if (kernelpath) {
		if (!kernelpath_ok(kernelpath))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					     "kernel device path \"%s\" must be absolute and begin "
					     "with /sys/devices/",
					     kernelpath);
		snprintf(p, sizeof(p), "%s/%s/net", root, kernelpath + 5);
		return first_entry(p, ret, err);
	}
	if (pci) {
		DIR *d;
		struct dirent *de;
		char best[NAME_MAX + 1] = "";

		if (sysfs_id_check(pci, "pciBusID", err) < 0)
			return -1;
		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/net", root, pci);
		if (lstat(p, &st) == 0)
			return first_entry(p, ret, err);
		/* A virtio-net function has its netdev one level down, under virtio<N>. */
		snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, pci);
		if ((d = opendir(p))) {
			while ((de = readdir(d)))
				if (strncmp(de->d_name, "virtio", 6) == 0 &&
				    (!*best || strcmp(de->d_name, best) < 0))
					snprintf(best, sizeof(best), "%s", de->d_name);
			closedir(d);
		}
		if (*best) {
			snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/%s/net", root, pci, best);
			if (lstat(p, &st) == 0)
				return first_entry(p, ret, err);
		}
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				     "no net directory under pci device %s", pci);
	}
	if (aux) {
		if (sysfs_id_check(aux, "deviceID", err) < 0)
			return -1;
		snprintf(p, sizeof(p), "%s/bus/auxiliary/devices/%s/net", root, aux);
		return first_entry(p, ret, err);
	}
	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
			     "failed to find physical interface");
}

int dm_sysfs_pci_dpdk(const char *root, const char *pci, bool *ret, struct cni_error **err)
{
	static const char *const drivers[] = { "vfio-pci", "uio_pci_generic", "igb_uio" };
	char p[PATH_MAX], target[PATH_MAX];
	const char *base;
	struct stat st;
	ssize_t n;

	if (sysfs_id_check(pci, "pciBusID", err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, pci);
	if (stat(p, &st) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, errno,
				     "error with host device: PCI device %s: %s", pci,
				     strerror(errno));
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s/driver", root, pci);
	*ret = false;
	n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return 0; /* no driver bound: a kernel netdev may still appear, not DPDK */
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (strcmp(base, drivers[i]) == 0)
			*ret = true;
	return 0;
}

struct alias_search {
	const char *alias;
	int ifindex;
};

static int parse_alias_match(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct alias_search *s = arg;
	struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	size_t n = strlen(s->alias);

	if (nlh->nlmsg_type != RTM_NEWLINK || s->ifindex > 0)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	ifi = nlmsg_data(nlh);
	if (tb[IFLA_IFALIAS] && (size_t)nla_len(tb[IFLA_IFALIAS]) >= n &&
	    memcmp(nla_data(tb[IFLA_IFALIAS]), s->alias, n) == 0 &&
	    ((size_t)nla_len(tb[IFLA_IFALIAS]) == n ||
	     ((const char *)nla_data(tb[IFLA_IFALIAS]))[n] == '\0'))
		s->ifindex = ifi->ifi_index;
	return 0;
}

static void reset_alias(void *arg)
{
	((struct alias_search *)arg)->ifindex = 0;
}

int dm_link_find_alias(struct netns *ns, const char *alias, struct cnl_link *ret,
		       struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	struct alias_search s = { .alias = alias, .ifindex = 0 };
	struct cnl_sock *sk;

	memset(ret, 0, sizeof(*ret));
	if (nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return cnl_put_failed(err, "list links");
	if (cnl_sock_get(ns, &sk, err) < 0 ||
	    cnl_dump(sk, msg, parse_alias_match, reset_alias, &s, err) < 0)
		return cni_error_wrap(err, "list links in netns \"%s\"", ns->path);
	if (s.ifindex <= 0)
		return 0;
	return cnl_link_get_by_index(ns, s.ifindex, ret, err);
}
