/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bridge: a veth pair per container, the container end as CNI_IFNAME with
 * the IPAM result on it, the host end a port of a Linux bridge in the host
 * netns, which can also be the containers' gateway (isGateway) and
 * masquerade them (ipMasq).  Every key of the reference; see docs/bridge.md.
 *
 * ADD runs in the reference's order, with every step that creates state
 * recorded, so any failure undoes all of it (veth, IPAM reservation, nft
 * elements) in reverse and returns the error that started it.  The shared
 * things ADD may create or change (the bridge, its gateway addresses, IP
 * forwarding) stay, as in the reference: other containers may use them.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "../../ipam/ipam.h"
#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/ipmasq.h"
#include "../../pkg/link.h"
#include "../../pkg/log.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/types.h"
#include "../../pkg/veth.h"
#include "../../pkg/xtref.h" /* adopt: the reference's rules */
#include "bridge.h"

/* The reference re-reads the port for 2.55 s in all; we wait on events, up to this. */
#define PORT_UP_TIMEOUT_MS 3000
/* enabledad: DAD of the container's addresses, as the reference's settle bound. */
#define DAD_TIMEOUT_MS 5000

#define cleanup_bridge_conf __attribute__((cleanup(bridge_conf_free)))

/* Best-effort sysctl (the reference ignores these failures too). */
static void sysctl_soft(struct netns *ns, const char *name, const char *value)
{
	struct cni_error *e = NULL;

	if (sysctl_ensure_net(ns, name, value, &e) < 0) {
		cni_log("%s", e->msg);
		cni_error_free(e);
	}
}

void bridge_accept_ra_off(struct netns *host, const char *ifname)
{
	cleanup_free char *name = xasprintf("net/ipv6/conf/%s/accept_ra", ifname);

	sysctl_soft(host, name, "0");
}

/* ---- the bridge ------------------------------------------------------- */

static bool wants_vlan_filtering(const struct bridge_conf *c)
{
	return c->vlan != 0 || c->has_trunk;
}

/* *ret_pinned: its MAC cannot follow its ports (we made it, with an explicit MAC). */
static int ensure_bridge(struct netns *host, const struct bridge_conf *c, struct cnl_link *ret,
			 bool *ret_pinned, struct cni_error **err)
{
	struct cni_error *e = NULL;
	struct cnl_link br;

	*ret_pinned = false;
	if (cnl_link_get(host, c->bridge, &br, &e) < 0) {
		char mac[CNL_MAC_STRLEN];

		if (!cnl_not_found(e))
			goto fail;
		cni_error_free(e);
		e = NULL;
		/*
		 * An explicit MAC pins it (NET_ADDR_SET): the bridge keeps its
		 * address instead of taking the lowest of its ports', which is
		 * what the reference's later "set the MAC to itself" achieves.
		 */
		cnl_mac_random(mac);
		/* The echo of the creation is the bridge: no question after it (unless no echo). */
		if (cnl_link_add(host,
				 &(struct cnl_newlink){ .kind = "bridge",
							.name = c->bridge,
							.mtu = (unsigned int)c->mtu,
							.mac = mac,
							.bridge_vlan_filtering =
								wants_vlan_filtering(c),
							.echo = &br },
				 &e) == 0) {
			*ret_pinned = true;
		} else {
			/* EEXIST: a concurrent ADD made it first; use theirs. */
			if (!e || e->errnum != EEXIST)
				goto fail;
			cni_error_free(e);
			e = NULL;
			br.ifindex = 0;
		}
		if (br.ifindex <= 0 && cnl_link_get(host, c->bridge, &br, &e) < 0)
			goto fail;
	}
	if (strcmp(br.kind, "bridge") != 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "\"%s\" already exists but is not a bridge", c->bridge);
	if (c->promisc && !(br.flags & IFF_PROMISC)) {
		if (cnl_link_set_promisc(host, c->bridge, true, err) < 0)
			return cni_error_wrap(err, "could not set promiscuous mode on \"%s\"",
					      c->bridge);
		br.flags |= IFF_PROMISC;
	}
	/*
	 * The reference leaves an existing bridge as it is; port VLANs on a
	 * bridge without filtering would silently not isolate anything.
	 */
	if (wants_vlan_filtering(c) && !br.br_vlan_filtering) {
		if (cnl_bridge_set_vlan_filtering(host, c->bridge, true, err) < 0)
			return cni_error_wrap(err, "failed to create bridge \"%s\"", c->bridge);
		br.br_vlan_filtering = true;
	}
	/*
	 * We own this interface's routes; and no window with accept_ra=1 while up.
	 * The link message already says whether it is off: a /proc/sys/net/ipv6
	 * lookup walks one dentry per network namespace of the machine.
	 */
	if (!br.has_accept_ra || br.accept_ra != 0)
		bridge_accept_ra_off(host, c->bridge);
	if (!cnl_link_is_up(&br)) {
		if (cnl_link_set_up(host, c->bridge, true, err) < 0)
			return -1;
		br.flags |= IFF_UP;
	}
	*ret = br;
	return 0;

fail:
	cni_error_move(err, &e);
	return cni_error_wrap(err, "failed to create bridge \"%s\"", c->bridge);
}

/*
 * Does the bridge still have the MAC br was read with, now that a port
 * with MAC port_mac joined?  A bridge whose MAC nobody set takes the lowest
 * of its ports' (br_stp_recalculate_bridge_id); one that never had a port
 * has an all-zero bridge id and gives its random MAC up to the first port.
 * So a MAC that is already a bridge id and lower than the new port's stays,
 * set or not.  Anything else is read again.  (Ports joining concurrently
 * can change it either way, after a re-read too.)
 */
static bool bridge_mac_kept(const struct cnl_link *br, const char *port_mac)
{
	uint8_t a[6], b[6];

	return br->mac[0] && strcmp(br->br_id_mac, br->mac) == 0 &&
	       strcmp(br->mac, "00:00:00:00:00:00") != 0 && cnl_mac_parse(br->mac, a) == 0 &&
	       port_mac && cnl_mac_parse(port_mac, b) == 0 && memcmp(a, b, sizeof(a)) < 0;
}

/* ---- ADD -------------------------------------------------------------- */

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_bridge_conf struct bridge_conf c = { 0 };
	cleanup_netns struct netns *host = NULL;
	cleanup_netns struct netns *cont = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	struct bridge_gateways gws = { 0 };
	struct cnl_link br;
	struct veth_pair vp;
	bool br_pinned, veth_done = false, sc_done = false, ipam_done = false, masq_done = false;
	int ci;

	cni_log("ADD start");

	/* The bridge is the first side effect: everything IPAM needs is checked before it. */
	if (bridge_conf_load(cmd, &c, err) < 0 || (c.l3 && ipam_validate(cmd, err) < 0) ||
	    netns_open_current(&host, err) < 0)
		return -1;
	/* The skeleton checked the fd already. */
	cont = netns_from_checked_fd(cmd->netns_fd, &cmd->netns_id, cmd->netns);
	if (ensure_bridge(host, &c, &br, &br_pinned, err) < 0)
		return -1;
	cni_log("bridge %s ready", br.name);

	if (veth_setup(host, cont,
		       &(struct veth_spec){ .ifname = cmd->ifname,
					    .mtu = (unsigned int)c.mtu,
					    .mac = c.mac,
					    .host_master = br.ifindex },
		       &vp, err) < 0)
		return -1;
	veth_done = true;
	cni_log("veth %s created", vp.host_name);
	/* New ports have hairpin and isolation off: only "on" needs a request. */
	if (cnl_brport_set(host, vp.host_ifindex, vp.host_name,
			   &(struct cnl_brport){ .has_hairpin = c.hairpin,
						 .hairpin = true,
						 .has_isolated = c.port_isolation,
						 .isolated = true },
			   err) < 0 ||
	    bridge_setup_vlans(host, &c, &br, vp.host_ifindex, vp.host_name, c.vlan, &c.trunk, err) <
		    0)
		goto undo;

	r = cni_result_new();
	cni_result_add_iface(r, br.name, br.mac, NULL);
	cni_result_add_iface(r, vp.host_name, vp.host_mac, NULL);
	ci = cni_result_add_iface(r, cmd->ifname, vp.cont_mac, cmd->netns);

	if (c.mac_spoof_chk) {
		if (spoofchk_add(cmd->conf->name, cmd->container_id, cmd->ifname, vp.host_name,
				 vp.cont_mac, err) < 0)
			goto undo;
		sc_done = true;
	}

	if (c.l3) {
		if (ipam_add(cmd, &ipam, err) < 0)
			goto undo;
		ipam_done = true;
		cni_log("IPAM done: %zu address(es)", ipam->n_ips);
		if (ipam->n_ips == 0) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "IPAM plugin returned missing IP config");
			goto undo;
		}
		for (size_t i = 0; i < ipam->n_ips; i++)
			*cni_result_add_ip(r) = ipam->ips[i];
		cni_routes_copy(&r->routes, &ipam->routes);
		cni_dns_copy(&r->dns, &ipam->dns);
		bridge_calc_gateways(r, &c, ci, &gws);

		if (ifconfig_apply(cont, cmd->ifname, r, ci,
				   &(struct ifconfig_opts){ .dad = c.enable_dad,
							    .settle_timeout_ms = DAD_TIMEOUT_MS,
							    .arp_notify = true,
							    .set_accept_dad = true,
							    .ifindex = vp.cont_ifindex },
				   err) < 0)
			goto undo;
		cni_log("container interface configured");
		if (c.is_gw) {
			if (bridge_setup_gateways(host, &c, &br, &br_pinned, &gws, r, err) < 0)
				goto undo;
			cni_log("gateway ready");
		}
		if (c.ip_masq) {
			if (ipmasq_add(cmd->conf->name, cmd->container_id, cmd->ifname, r->ips,
				       r->n_ips, err) < 0)
				goto undo;
			masq_done = true;
			cni_log("masquerade added");
		}
	} else if (!c.disable_container_interface &&
		   cnl_link_set_up(cont, cmd->ifname, true, err) < 0) {
		goto undo;
	}

	cni_log("waiting for the port");
	if (!c.disable_container_interface) {
		struct cnl_link hv;

		if (cnl_link_wait_oper_up(host, vp.host_name, PORT_UP_TIMEOUT_MS, &hv, err) < 0) {
			cni_error_wrap(err, "bridge port in error state");
			goto undo;
		}
		free(r->ifaces[1].mac);
		r->ifaces[1].mac = xstrdup(hv.mac);
	}
	/* The bridge's MAC may have followed its ports if someone else made it unpinned. */
	if (!br_pinned && !bridge_mac_kept(&br, r->ifaces[1].mac) &&
	    cnl_link_get(host, br.name, &br, err) < 0)
		goto undo;
	free(r->ifaces[0].mac);
	r->ifaces[0].mac = xstrdup(br.mac);
	cni_log("port up, ADD done");

	if (cni_dns_is_set(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	bridge_gateways_free(&gws);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/*
	 * Reverse order.  *err keeps the error that got us here; each step
	 * reports into a fresh local (its own retry logic reads it), and a
	 * failure is appended to *err's details rather than lost.
	 */
	{
		struct cni_error *e = NULL;

		if (masq_done && ipmasq_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
			cni_error_move(err, &e);
		if (ipam_done && ipam_del(cmd, &e) < 0)
			cni_error_move(err, &e);
		if (sc_done && spoofchk_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
			cni_error_move(err, &e);
		if (veth_done && cnl_link_del(host, vp.host_name, &e) < 0)
			cni_error_move(err, &e);
		cni_error_free(e);
	}
	bridge_gateways_free(&gws);
	return -1;
}

/* ---- DEL -------------------------------------------------------------- */

/*
 * Delete CNI_IFNAME in the container only if it is a veth: after an ADD
 * that failed because the name was taken, DEL must not remove someone
 * else's interface.
 */
static int del_container_veth(struct netns *cont, const char *ifname, struct cni_error **err)
{
	struct cni_error *e = NULL;
	struct cnl_link l;

	if (cnl_link_get(cont, ifname, &l, &e) < 0) {
		if (cnl_not_found(e)) {
			cni_error_free(e);
			return 0;
		}
		cni_error_move(err, &e);
		return -1;
	}
	if (strcmp(l.kind, "veth") != 0)
		return 0;
	return cnl_link_del(cont, ifname, err) < 0 ? -1 : 0;
}

/*
 * Best effort and idempotent: every step runs whatever happened to the
 * others; the first failure gives the error its code and message, the
 * later ones are appended to its details.  Without the netns (or with it
 * gone) the veth is gone too; the masquerade and spoofchk elements are
 * found by their tag, so nothing depends on the netns or prevResult.
 */
static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_bridge_conf struct bridge_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_error struct cni_error *e = NULL;
	int r = 0;

	cni_log("DEL start");
	if (bridge_conf_load(cmd, &c, err) < 0)
		return -1;
	/* Each step reports into a fresh local: its own retry logic reads that error. */
	if (cmd->netns_fd >= 0) {
		cont = netns_from_checked_fd(cmd->netns_fd, &cmd->netns_id, cmd->netns);
		if (del_container_veth(cont, cmd->ifname, &e) < 0)
			r = cni_error_move(err, &e);
		cni_log("veth deleted");
	}
	if (c.l3 && ipam_del(cmd, &e) < 0)
		r = cni_error_move(err, &e);
	cni_log("IPAM released");
	if (c.mac_spoof_chk && spoofchk_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
		r = cni_error_move(err, &e);
	if (c.l3 && c.ip_masq && ipmasq_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
		r = cni_error_move(err, &e);
	if (c.l3 && c.ip_masq && /* adopt */
	    xtref_ipmasq_del(NULL, cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
		r = cni_error_move(err, &e);
	return r;
}

/* ---- CHECK ------------------------------------------------------------ */

static int find_iface(const struct cni_result *prev, const char *name, const char *sandbox)
{
	for (size_t i = 0; i < prev->n_ifaces; i++) {
		const struct cni_iface *f = &prev->ifaces[i];

		if (!f->name || strcmp(f->name, name) != 0)
			continue;
		if (sandbox ? (f->sandbox && strcmp(f->sandbox, sandbox) == 0)
			    : (!f->sandbox || !*f->sandbox))
			return (int)i;
	}
	return -1;
}

static bool mac_differs(const char *want, const char *have)
{
	char a[CNI_MAC_STRLEN], b[CNI_MAC_STRLEN];

	if (!want || !*want)
		return false;
	return cni_mac_parse(want, a) < 0 || cni_mac_parse(have, b) < 0 || strcmp(a, b) != 0;
}

static int check_bridge(struct netns *host, const struct bridge_conf *c, const struct cni_iface *f,
			struct cnl_link *br, struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (cnl_link_get(host, f->name, br, &e) < 0) {
		cni_error_free(e);
		return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
				     "CNI created bridge %s in host namespace was not found",
				     f->name);
	}
	if (strcmp(br->kind, "bridge") != 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Interface %s does not have link type of bridge", f->name);
	if (mac_differs(f->mac, br->mac))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Bridge interface %s Mac doesn't match: %s", f->name, f->mac);
	if (!!(br->flags & IFF_PROMISC) != c->promisc)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Bridge interface %s configured Promisc Mode %s doesn't match "
				     "current state: %s",
				     f->name, c->promisc ? "true" : "false",
				     br->flags & IFF_PROMISC ? "true" : "false");
	if (wants_vlan_filtering(c) && !br->br_vlan_filtering)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Bridge interface %s has VLAN filtering off", f->name);
	return 0;
}

/* The host veth of prev: a veth in the host whose peer is the container's interface. */
static int check_host_veth(struct netns *host, const struct cni_result *prev, int bri, int ci,
			   const struct cnl_link *br, const struct cnl_link *cl, int *ret_idx,
			   struct cni_error **err)
{
	for (size_t i = 0; i < prev->n_ifaces; i++) {
		const struct cni_iface *f = &prev->ifaces[i];
		struct cni_error *e = NULL;
		struct cnl_link l;

		if ((int)i == bri || (int)i == ci || !f->name || (f->sandbox && *f->sandbox))
			continue;
		if (cnl_link_get(host, f->name, &l, &e) < 0) {
			cni_error_free(e);
			continue;
		}
		if (strcmp(l.kind, "veth") != 0 || l.link != cl->ifindex || !l.link_in_other_netns)
			continue;
		if (l.master != br->ifindex)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "host veth %s of container interface %s is not a port "
					     "of bridge %s",
					     f->name, cl->name, br->name);
		if (mac_differs(f->mac, l.mac))
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "Interface %s Mac %s doesn't match: %s", f->name,
					     l.mac, f->mac);
		*ret_idx = (int)i;
		return 0;
	}
	return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
			     "CNI veth created for bridge %s was not found", br->name);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_bridge_conf struct bridge_conf c = { 0 };
	cleanup_netns struct netns *host = NULL;
	cleanup_netns struct netns *cont = NULL;
	const struct cni_result *prev = cmd->conf->prev_result;
	struct cnl_link br, cl;
	int bri, ci, hi = -1;

	/* The bridge is the first side effect: everything IPAM needs is checked before it. */
	if (bridge_conf_load(cmd, &c, err) < 0 || (c.l3 && ipam_validate(cmd, err) < 0) ||
	    netns_open_current(&host, err) < 0)
		return -1;
	cont = netns_from_checked_fd(cmd->netns_fd, &cmd->netns_id, cmd->netns);
	/* Unlike the reference, an L2-only config has no IPAM to ask. */
	if (c.l3 && ipam_check(cmd, err) < 0)
		return -1;
	if (!prev)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Required prevResult missing");
	bri = find_iface(prev, c.bridge, NULL);
	if (bri < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
				     "CNI created bridge %s in host namespace was not found",
				     c.bridge);
	ci = find_iface(prev, cmd->ifname, cmd->netns ? cmd->netns : "");
	if (ci < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
				     "CNI created interface in container %s not found", cmd->ifname);
	if (check_bridge(host, &c, &prev->ifaces[bri], &br, err) < 0)
		return -1;
	{
		struct cni_error *e = NULL;

		if (cnl_link_get(cont, cmd->ifname, &cl, &e) < 0) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
					     "CNI created interface in container %s not found",
					     cmd->ifname);
		}
	}
	if (strcmp(cl.kind, "veth") != 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Error: Container interface %s not of type veth", cmd->ifname);
	if (mac_differs(prev->ifaces[ci].mac, cl.mac))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "Interface %s Mac %s doesn't match container Mac: %s",
				     cmd->ifname, prev->ifaces[ci].mac, cl.mac);
	if (!c.disable_container_interface && !cnl_link_is_up(&cl))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "container interface %s is down",
				     cmd->ifname);
	if (check_host_veth(host, prev, bri, ci, &br, &cl, &hi, err) < 0)
		return -1;
	if (ifconfig_check_link(cont, &cl, prev, ci, NULL, err) < 0)
		return -1;
	if (c.l3 && c.ip_masq) {
		cleanup_free struct cni_ip *ips = NULL;
		size_t n = 0;

		for (size_t i = 0; i < prev->n_ips; i++)
			if (prev->ips[i].interface == ci)
				*(struct cni_ip *)xappend(&ips, &n, sizeof(*ips)) = prev->ips[i];
		if (ipmasq_check(cmd->conf->name, cmd->container_id, cmd->ifname, ips, n, err) < 0)
			return -1;
	}
	if (c.mac_spoof_chk && spoofchk_check(cmd->conf->name, cmd->container_id, cmd->ifname,
					      prev->ifaces[hi].name, cl.mac, err) < 0)
		return -1;
	return 0;
}

/* ---- STATUS, GC ------------------------------------------------------- */

static int cmd_status(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_bridge_conf struct bridge_conf c = { 0 };

	if (bridge_conf_load(cmd, &c, err) < 0)
		return -1;
	return c.l3 ? ipam_status(cmd, err) : 0;
}

/* Keeps going past failures; the first one is reported. */
static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_bridge_conf struct bridge_conf c = { 0 };
	const struct cni_netconf *nc = cmd->conf;
	int r = 0;

	if (bridge_conf_load(cmd, &c, err) < 0)
		return -1;
	if (c.l3 && ipam_gc(cmd, err) < 0)
		r = -1;
	if (c.l3 && c.ip_masq && ipmasq_gc(nc, err) < 0)
		r = -1;
	if (c.l3 && c.ip_masq && xtref_ipmasq_gc(NULL, nc, err) < 0) /* adopt */
		r = -1;
	if (c.mac_spoof_chk && spoofchk_gc(nc, err) < 0)
		r = -1;
	return r;
}

static const struct cni_plugin plugin = {
	.name = "bridge",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
