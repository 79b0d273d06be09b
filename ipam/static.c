/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static: the addresses, routes and DNS of the config (or of CNI_ARGS,
 * args, runtimeConfig: config.h), no state.  DEL does nothing; CHECK
 * compares the gateways of prevResult with the configured ones, as the
 * reference.
 */
#include "../pkg/cleanup.h"
#include "config.h"
#include "internal.h"
#include "ipam.h"

const char *const ipam_static_env_args[] = { "IP", "GATEWAY", NULL };

int ipam_static_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_static_conf struct ipam_static_conf *c = NULL;
	struct cni_result *res;

	if (ipam_static_conf_load(cmd, &c, err) < 0)
		return -1;
	res = cni_result_new();
	for (size_t i = 0; i < c->n_addrs; i++) {
		struct cni_ip *ip = cni_result_add_ip(res);

		ip->address = c->addrs[i].address;
		ip->gateway = c->addrs[i].gateway;
	}
	cni_routes_copy(&res->routes, &c->routes);
	cni_dns_copy(&res->dns, &c->dns);
	*ret = res;
	return 0;
}

int ipam_static_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	return 0; /* nothing was allocated */
}

int ipam_static_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_static_conf struct ipam_static_conf *c = NULL;
	const struct cni_result *prev = cmd->conf->prev_result;
	char abuf[IPADDR_STRLEN];

	if (ipam_static_conf_load(cmd, &c, err) < 0)
		return -1;
	if (!prev)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Required prevResult missing");
	/* The first prevResult entry with the address decides; missing addresses are not reported. */
	for (size_t i = 0; i < c->n_addrs; i++)
		for (size_t j = 0; j < prev->n_ips; j++) {
			if (!ipaddr_eq(&c->addrs[i].address.addr, &prev->ips[j].address.addr))
				continue;
			if (ipaddr_is_set(&c->addrs[i].gateway) &&
			    !ipaddr_eq(&c->addrs[i].gateway, &prev->ips[j].gateway))
				return cni_error_set(err, CNI_ERR_INTERNAL, 0,
						     "static: Failed to match addr %s on interface %s",
						     ipaddr_fmt(&prev->ips[j].address.addr, abuf),
						     cmd->ifname);
			break;
		}
	return 0;
}

static int plugin_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	if (cni_env_args_check(&cmd->args, ipam_static_env_args, err) < 0)
		return -1;
	return ipam_static_add(cmd, ret, err);
}

static int plugin_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	if (cni_env_args_check(&cmd->args, ipam_static_env_args, err) < 0)
		return -1;
	return ipam_static_check(cmd, err);
}

const struct cni_plugin ipam_static_plugin = {
	.name = "static",
	.add = plugin_add,
	.del = ipam_static_del,
	.check = plugin_check,
	.ipam = true,
};
