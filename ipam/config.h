/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration of the built-in IPAM types, decoded from the request
 * (IPAM plugins get the whole network config, not only "ipam").
 *
 * host-local keys (docs/host-local.md): ipam.ranges (list
 * of range sets), the legacy ipam.subnet/rangeStart/rangeEnd/gateway
 * (one range set, put first), runtimeConfig.ipRanges (put before both),
 * ipam.routes, ipam.dataDir, ipam.resolvConf.
 *
 * Requested addresses: the reference unions CNI_ARGS "IP", args.cni.ips
 * and runtimeConfig.ips.  The CNI conventions say the structured args win
 * over CNI_ARGS, so here the first non-empty source wins, in the order
 * runtimeConfig.ips, args.cni.ips, CNI_ARGS IP.  A prefix is accepted and
 * ignored (the result uses the subnet's).
 */
#ifndef CNIC_IPAM_CONFIG_H
#define CNIC_IPAM_CONFIG_H

#include "../pkg/skel.h"
#include "range.h"

struct ipam_hl_conf {
	struct ipam_range_set *sets;
	size_t n_sets;
	struct cni_routes routes;
	char *data_dir; /* the default when not configured */
	char *resolv_conf;
	bool reclaim;	    /* "reclaimAfterReboot", default true */
	struct ipaddr *req; /* requested addresses */
	size_t n_req;
};

/*
 * Decode and validate host-local's config from cmd->conf (and CNI_ARGS).
 * With validate false (DEL, GC) only the JSON shapes are checked: a config
 * whose ranges became invalid must still let DEL release what ADD took.
 * Code 7 for every config error, with the reference's texts.
 */
int ipam_hl_conf_load(const struct cni_cmd *cmd, bool validate, struct ipam_hl_conf **ret,
		      struct cni_error **err);
void ipam_hl_conf_free(struct ipam_hl_conf *c);
void ipam_hl_conf_freep(struct ipam_hl_conf **c);
#define cleanup_hl_conf __attribute__((cleanup(ipam_hl_conf_freep)))

/* static (section 2.8). */
struct ipam_static_addr {
	struct ipnet address; /* host address + prefix */
	struct ipaddr gateway;
};

struct ipam_static_conf {
	struct ipam_static_addr *addrs;
	size_t n_addrs;
	struct cni_routes routes;
	struct cni_dns dns;
};

/*
 * Addresses: ipam.addresses, then CNI_ARGS IP (comma-separated CIDRs)
 * appended, CNI_ARGS GATEWAY (comma-separated) set on every CNI_ARGS
 * address whose subnet contains it and on config addresses that have no
 * gateway of their own (the reference skips config addresses);
 * args.cni.ips replaces them all, runtimeConfig.ips replaces them again
 * (highest priority).  Non-CIDR entries: code 7.
 */
int ipam_static_conf_load(const struct cni_cmd *cmd, struct ipam_static_conf **ret,
			  struct cni_error **err);
void ipam_static_conf_free(struct ipam_static_conf *c);
void ipam_static_conf_freep(struct ipam_static_conf **c);
#define cleanup_static_conf __attribute__((cleanup(ipam_static_conf_freep)))

/* Parse a resolv.conf into dns as the reference does (nameserver, domain, search, options). */
int ipam_parse_resolv_conf(const char *path, struct cni_dns *dns, struct cni_error **err);

#endif
