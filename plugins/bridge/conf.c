/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "../lib/l2util.h"
#include "bridge.h"

/* One "vlanTrunk" entry: {"id": N} and/or {"minID": A, "maxID": B}. */
struct trunk_raw {
	int id, min_id, max_id;
	bool has_id, has_min, has_max;
};

static const struct cni_field trunk_raw_fields[] = {
	{ .key = "id",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct trunk_raw, id),
	  .present = offsetof(struct trunk_raw, has_id),
	  .flags = CNI_FIELD_HAS_PRESENT | CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ .key = "minID",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct trunk_raw, min_id),
	  .present = offsetof(struct trunk_raw, has_min),
	  .flags = CNI_FIELD_HAS_PRESENT | CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ .key = "maxID",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct trunk_raw, max_id),
	  .present = offsetof(struct trunk_raw, has_max),
	  .flags = CNI_FIELD_HAS_PRESENT | CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ 0 },
};

/* The reference's collectVlanTrunk checks and messages; the result is sorted and unique. */
static int decode_trunk(const struct cni_json *v, void *dst, const char *path, struct cni_error **err)
{
	struct vlan_list *out = dst;
	cleanup_free bool *seen = NULL;
	size_t n;

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected a list", path);
	n = cni_json_array_len(v);
	seen = xcalloc(VLAN_MAX + 1, sizeof(*seen));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = cni_json_path_index(path, i);
		struct trunk_raw t = { 0 };

		if (cni_json_decode(cni_json_array_get(v, i), trunk_raw_fields, &t, p, err) < 0)
			return -1;
		if (t.has_min != t.has_max)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "minID and maxID should be configured simultaneously, "
					     "%s is missing",
					     t.has_min ? "maxID" : "minID");
		if (t.has_min) {
			if (t.min_id <= 0 || t.min_id > VLAN_MAX)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "incorrect trunk minID parameter");
			if (t.max_id <= 0 || t.max_id > VLAN_MAX)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "incorrect trunk maxID parameter");
			if (t.max_id < t.min_id)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "minID is greater than maxID in trunk "
						     "parameter");
			for (int id = t.min_id; id <= t.max_id; id++)
				seen[id] = true;
		}
		if (t.has_id) {
			if (t.id <= 0 || t.id > VLAN_MAX)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "incorrect trunk id parameter");
			seen[t.id] = true;
		}
	}
	for (int id = 1; id <= VLAN_MAX; id++) {
		if (seen[id])
			*(uint16_t *)xappend(&out->v, &out->n, sizeof(uint16_t)) = (uint16_t)id;
	}
	return 0;
}

static void free_trunk(void *dst)
{
	struct vlan_list *l = dst;

	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const struct cni_field bridge_fields[] = {
	{ .key = "bridge",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct bridge_conf, bridge),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "isGateway",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, is_gw),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "isDefaultGateway",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, is_default_gw),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "forceAddress",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, force_address),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "ipMasqBackend",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct bridge_conf, ip_masq_backend),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct bridge_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "hairpinMode",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, hairpin),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "promiscMode",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, promisc),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "vlan",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct bridge_conf, vlan),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ .key = "vlanTrunk",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct bridge_conf, trunk),
	  .present = offsetof(struct bridge_conf, has_trunk),
	  .flags = CNI_FIELD_HAS_PRESENT | CNI_FIELD_NULL_OK,
	  .decode = decode_trunk,
	  .free = free_trunk },
	{ .key = "preserveDefaultVlan",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, preserve_default_vlan),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "macspoofchk",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, mac_spoof_chk),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "enabledad",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, enable_dad),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "disableContainerInterface",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, disable_container_interface),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "portIsolation",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct bridge_conf, port_isolation),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const char *const bridge_env_args[] = { "MAC", NULL };

void bridge_conf_free(struct bridge_conf *c)
{
	cni_fields_free(bridge_fields, c);
	free(c->mac);
	c->mac = NULL;
}

static int set_mac(struct bridge_conf *c, const char *s, const char *what, unsigned int code,
		   struct cni_error **err)
{
	char mac[CNI_MAC_STRLEN];

	if (cni_mac_parse(s, mac) < 0)
		return cni_error_set(err, code, 0, "%s: invalid MAC address \"%s\"", what, s);
	free(c->mac);
	c->mac = xstrdup(mac);
	return 0;
}

int bridge_conf_load(const struct cni_cmd *cmd, struct bridge_conf *c, struct cni_error **err)
{
	const struct cni_netconf *nc = cmd->conf;
	const char *env_mac;

	c->bridge = xstrdup(BRIDGE_DEFAULT_NAME);
	if (cni_json_decode(cni_netconf_root(nc), bridge_fields, c, "", err) < 0)
		return -1;
	c->ip_masq = nc->ip_masq;
	c->l3 = nc->ipam_type != NULL;
	if (!*c->bridge) {
		free(c->bridge);
		c->bridge = xstrdup(BRIDGE_DEFAULT_NAME);
	}
	if (!cni_valid_ifname(c->bridge))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "bridge: invalid name \"%s\"",
				     c->bridge);
	if (c->vlan < 0 || c->vlan > VLAN_MAX)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid VLAN ID %d (must be between 0 and %d)", c->vlan,
				     VLAN_MAX);
	if (c->ip_masq_backend && *c->ip_masq_backend && strcmp(c->ip_masq_backend, "iptables") != 0 &&
	    strcmp(c->ip_masq_backend, "nftables") != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "unknown ipMasqBackend \"%s\" (iptables or nftables)",
				     c->ip_masq_backend);
	if (c->is_default_gw)
		c->is_gw = true;
	if (c->hairpin && c->promisc)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "cannot set hairpin mode and promiscuous mode at the same time");
	if (c->l3 && c->disable_container_interface)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "cannot use IPAM when disableContainerInterface flag is set");

	/* Lowest precedence first: CNI_ARGS, then args.cni.mac, then runtimeConfig.mac. */
	if (l2_env_args_check(cmd, bridge_env_args, err) < 0)
		return -1;
	env_mac = cni_env_args_get(&cmd->args, "MAC");
	if (env_mac && *env_mac && set_mac(c, env_mac, "CNI_ARGS MAC", CNI_ERR_INVALID_ENV, err) < 0)
		return -1;
	if (nc->args_mac && *nc->args_mac &&
	    set_mac(c, nc->args_mac, "args.cni.mac", CNI_ERR_INVALID_CONFIG, err) < 0)
		return -1;
	if (nc->rc.mac && *nc->rc.mac &&
	    set_mac(c, nc->rc.mac, "runtimeConfig.mac", CNI_ERR_INVALID_CONFIG, err) < 0)
		return -1;
	return 0;
}
