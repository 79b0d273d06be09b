/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bandwidth: a chained plugin that shapes a veth attachment (bridge, ptp)
 * with token bucket filters, as the reference's plugins/meta/bandwidth.
 *
 *  - ingress (traffic to the container): TBF root qdisc 1: on the host end
 *    of the container's veth;
 *  - egress (traffic from the container): the host veth's ingress qdisc
 *    ffff: redirects everything (u32 match-all, mirred egress redirect) to
 *    an ifb named "bwp" + the first 12 hex digits of sha512(network name +
 *    container id) - the reference's name, so a node switched from the
 *    reference removes the reference's ifb on DEL - which has a TBF root.
 *
 * Rates and bursts come from the top-level keys ingressRate, ingressBurst,
 * egressRate, egressBurst (bits/s, bits) or, when none of them is given,
 * from runtimeConfig.bandwidth.  The TBF parameters are the reference's:
 * rate = bits/8 bytes/s, latency 25 ms, limit = rate * latency + burst
 * bytes, buffer = burst / rate in psched ticks.  See docs/bandwidth.md for
 * where cnic differs (rollback, DEL of the veth's qdiscs, CHECK, GC).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_sched.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/sha512.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "nl.h"
#include "tc.h"

#define IFB_PREFIX "bwp"
#define LATENCY_MS 25.0
#define ALIAS_PREFIX "cnic-bandwidth:"

/* ---- configuration ------------------------------------------------------- */

struct bw_conf {
	struct cni_bandwidth bw;
	bool has_ir, has_ib, has_er, has_eb;
};

#define BC(m) offsetof(struct bw_conf, m)

static const struct cni_field conf_fields[] = {
	{ .key = "ingressRate",
	  .kind = CNI_FIELD_UINT64,
	  .offset = BC(bw.ingress_rate),
	  .present = BC(has_ir),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "ingressBurst",
	  .kind = CNI_FIELD_UINT64,
	  .offset = BC(bw.ingress_burst),
	  .present = BC(has_ib),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "egressRate",
	  .kind = CNI_FIELD_UINT64,
	  .offset = BC(bw.egress_rate),
	  .present = BC(has_er),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "egressBurst",
	  .kind = CNI_FIELD_UINT64,
	  .offset = BC(bw.egress_burst),
	  .present = BC(has_eb),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ 0 },
};

/* One direction, ready for the kernel. */
struct shape {
	bool on;
	struct bw_tbf tbf;
};

struct plan {
	struct shape in, eg;
};

/*
 * The kernel's psched clock in ticks per microsecond, which the reference
 * reads from /proc/net/psched.  Every kernel since 2.6.31 writes the same
 * first three numbers there (ns per us, ns per tick with PSCHED_SHIFT 6,
 * 1000000): the ratio is a constant, and reading it cost an open, a read
 * and a close of a proc file on every ADD and CHECK.
 */
#define TICKS_PER_USEC (1000.0 / 64.0)

/*
 * The reference's checks (its messages), then ours: a rate under 8 bit/s is
 * 0 bytes/s for the kernel, and a burst/rate pair whose buffer or limit does
 * not fit the kernel's 32-bit fields would silently wrap in the reference.
 */
static int plan_one(const char *dir, uint64_t rate, uint64_t burst, double ticks, struct shape *s,
		    struct cni_error **err)
{
	double us, buf, lim;

	memset(s, 0, sizeof(*s));
	if (burst == 0 && rate != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "if rate is set, burst must also be set");
	if (rate == 0 && burst != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "if burst is set, rate must also be set");
	if (burst / 8 >= UINT32_MAX)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "burst cannot be more than 4GB");
	if (rate == 0)
		return 0;
	if (rate < 8)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%sRate %llu: below 8 bit/s, the kernel's least rate", dir,
				     (unsigned long long)rate);
	s->tbf.rate = rate / 8;
	/* Same operations in the same order as the reference, so the doubles round alike. */
	us = (double)(burst / 8) * 1000000.0 / (double)s->tbf.rate;
	buf = (double)(uint32_t)us * ticks;
	lim = (double)s->tbf.rate * (1000000.0 * (LATENCY_MS / 1000.0)) / 1000000.0;
	if (us >= 4294967296.0 || buf >= 4294967296.0 ||
	    (double)(uint32_t)lim + (double)(burst / 8) >= 4294967296.0)
		return cni_error_set(
			err, CNI_ERR_INVALID_CONFIG, 0,
			"%sBurst %llu at %sRate %llu: the token bucket does not fit the kernel's 32-bit buffer or limit",
			dir, (unsigned long long)burst, dir, (unsigned long long)rate);
	s->tbf.buffer = (uint32_t)buf;
	s->tbf.limit = (uint32_t)lim + (uint32_t)(burst / 8);
	s->on = true;
	return 0;
}

/* Static keys win over runtimeConfig.bandwidth as soon as one is present (the reference's rule). */
static int load_plan(const struct cni_cmd *cmd, struct plan *p, struct cni_error **err)
{
	struct bw_conf c = { 0 };
	const struct cni_bandwidth *bw = NULL;

	if (cni_json_decode(cni_netconf_root(cmd->conf), conf_fields, &c, "", err) < 0)
		return -1;
	if (c.has_ir || c.has_ib || c.has_er || c.has_eb)
		bw = &c.bw;
	else if (cmd->conf->rc.has_bandwidth)
		bw = &cmd->conf->rc.bandwidth;
	memset(p, 0, sizeof(*p));
	if (!bw)
		return 0;
	if (plan_one("ingress", bw->ingress_rate, bw->ingress_burst, TICKS_PER_USEC, &p->in, err) < 0 ||
	    plan_one("egress", bw->egress_rate, bw->egress_burst, TICKS_PER_USEC, &p->eg, err) < 0)
		return -1;
	return 0;
}

static void ifb_name(const struct cni_cmd *cmd, char out[IFNAMSIZ])
{
	cleanup_free char *s = xasprintf("%s%s", cmd->conf->name, cmd->container_id);

	sha512_name(IFB_PREFIX, s, strlen(s), IFNAMSIZ - 1, out);
}

/* ---- the host end of the container's veth --------------------------------- */

/*
 * CNI_IFNAME in the container: the one question asked there.  The
 * skeleton already checked CNI_NETNS's fd and knows its identity, so
 * wrapping it costs no syscall; the socket opened there is closed at once,
 * which hands its receive buffer (see pkg/nlsock.c) on to the host's.
 */
static int container_link(const struct cni_cmd *cmd, struct cnl_link *ret, struct cni_error **err)
{
	cleanup_netns struct netns *cont =
		netns_from_checked_fd(cmd->netns_fd, &cmd->netns_id, cmd->netns);

	return bw_link_get(cont, cmd->ifname, 0, ret, err);
}

/*
 * The reference's lookup: CNI_IFNAME's veth peer index, that index in the
 * host namespace, and a prevResult interface without sandbox of that name
 * (with bridge the result also lists the bridge; with ptp only the veth).
 */
static int find_host_veth(struct netns *host, const struct cni_cmd *cmd,
			  const struct cni_result *prev, struct cnl_link *hl, struct cni_error **err)
{
	const char *ifname = cmd->ifname;
	struct cnl_link cl;
	cleanup_error struct cni_error *e = NULL;
	int r;

	if (!prev || prev->n_ifaces == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "no interfaces provided");
	r = container_link(cmd, &cl, &e);
	if (r < 0 || strcmp(cl.kind, "veth") != 0 || cl.link <= 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, e ? e->errnum : 0,
				     "container interface %s has no veth peer%s%s", ifname,
				     e ? ": " : "", e ? e->msg : "");
	/* The same index in the host may be another link when the peer lives elsewhere. */
	if (bw_link_get(host, NULL, cl.link, hl, &e) < 0 || strcmp(hl->kind, "veth") != 0 ||
	    hl->link != cl.ifindex)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "veth peer with index %d is not in host ns", cl.link);
	for (size_t i = 0; i < prev->n_ifaces; i++) {
		const struct cni_iface *f = &prev->ifaces[i];

		if ((!f->sandbox || !f->sandbox[0]) && f->name && strcmp(f->name, hl->name) == 0)
			return 0;
	}
	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			     "no veth peer of container interface found in host ns");
}

/* ---- ADD ------------------------------------------------------------------- */

struct undo {
	struct netns *host;
	int veth;
	char ifb[IFNAMSIZ];
	bool tbf, ifb_made, ingress;
};

/*
 * Remove what ADD made: the ingress qdisc (with the filter pointing at the
 * ifb), the ifb, the veth's TBF.  Failures are collected in *err.
 */
static void rollback(struct undo *u, struct cni_error **err)
{
	cleanup_error struct cni_error *e = NULL;

	if (u->ingress && bw_qdisc_del(u->host, u->veth, TC_H_INGRESS, BW_HANDLE(0xffff, 0), &e) < 0)
		cni_error_move(err, &e);
	if (u->ifb_made && bw_link_del(u->host, u->ifb, &e) < 0)
		cni_error_move(err, &e);
	if (u->tbf && bw_qdisc_del(u->host, u->veth, TC_H_ROOT, BW_HANDLE(1, 0), &e) < 0)
		cni_error_move(err, &e);
}

/*
 * What was in the way of an ADD, in the order ADD meets it: a root qdisc or
 * an ingress qdisc already on the veth (a second ADD, or someone else's
 * shaping), the ifb name already taken.  Asked only after a creation came
 * back EEXIST and was rolled back: every creation is NLM_F_EXCL, so the
 * kernel finds the conflict at no cost to an ADD that has none, and this
 * names it.
 */
static int find_conflict(struct netns *host, const struct cnl_link *hl, const struct plan *p,
			 const char *ifb, struct cni_error **err)
{
	struct bw_qdisc q;
	struct cnl_link l;
	cleanup_error struct cni_error *e = NULL;
	int r;

	if (p->in.on) {
		r = bw_qdisc_get(host, hl->ifindex, TC_H_ROOT, &q, err);
		if (r < 0)
			return -1;
		if (r == 1 && q.handle != 0)
			return cni_error_set(
				err, CNI_ERR_INVALID_CONFIG, EEXIST,
				"create qdisc tbf on \"%s\": a root qdisc %s %x: is already there",
				hl->name, q.kind, q.handle >> 16);
	}
	if (!p->eg.on)
		return 0;
	r = bw_qdisc_get(host, hl->ifindex, TC_H_INGRESS, &q, err);
	if (r < 0)
		return -1;
	if (r == 1)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
				     "create ingress qdisc on \"%s\": an ingress qdisc is already there",
				     hl->name);
	if (bw_link_get(host, ifb, 0, &l, &e) == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
				     "adding link \"%s\": File exists (a %s link)", ifb,
				     l.kind[0] ? l.kind : "kernel");
	if (!cnl_not_found(e))
		return cni_error_move(err, &e);
	return 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_netns struct netns *host = NULL;
	struct plan p;
	struct cnl_link hl, ifb;
	struct undo u = { 0 };
	cleanup_free char *alias = NULL;
	cleanup_error struct cni_error *undo_err = NULL, *conflict = NULL;
	struct cni_result *r;

	if (load_plan(cmd, &p, err) < 0)
		return -1;
	if (!p.in.on && !p.eg.on) {
		*ret = cmd->conf->prev_result ? cni_result_dup(cmd->conf->prev_result)
					      : cni_result_new();
		return 0;
	}
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "must be called as chained plugin");
	if (netns_open_current(&host, err) < 0 ||
	    find_host_veth(host, cmd, cmd->conf->prev_result, &hl, err) < 0)
		return -1;
	u.host = host;
	u.veth = hl.ifindex;
	ifb_name(cmd, u.ifb);

	/*
	 * The ingress qdisc before the ifb: each conflict the kernel may
	 * report is then met before the ifb exists, so its rollback only
	 * removes qdiscs (deleting an ifb waits for RCU).
	 */
	if (p.in.on) {
		if (bw_tbf_add(host, hl.ifindex, hl.name, &p.in.tbf, err) < 0)
			goto fail;
		u.tbf = true;
	}
	if (p.eg.on) {
		if (bw_ingress_add(host, hl.ifindex, hl.name, err) < 0)
			goto fail;
		u.ingress = true;
		if (strlen(ALIAS_PREFIX) + strlen(cmd->conf->name) < 256)
			alias = xasprintf(ALIAS_PREFIX "%s", cmd->conf->name);
		/* On failure bw_ifb_add() leaves no ifb of its own behind. */
		if (bw_ifb_add(host, u.ifb, hl.mtu, alias, &ifb, err) < 0)
			goto fail;
		u.ifb_made = true;
		if (bw_redirect_add(host, hl.ifindex, hl.name, ifb.ifindex, u.ifb, err) < 0 ||
		    bw_tbf_add(host, ifb.ifindex, u.ifb, &p.eg.tbf, err) < 0)
			goto fail;
	}

	r = cni_result_dup(cmd->conf->prev_result);
	if (p.eg.on)
		cni_result_add_iface(r, u.ifb, ifb.mac, NULL);
	*ret = r;
	return 0;
fail:
	rollback(&u, &undo_err);
	/* With something of ours left over, the lookup would name it instead. */
	if (!undo_err && err && *err && (*err)->errnum == EEXIST &&
	    find_conflict(host, &hl, &p, u.ifb, &conflict) < 0 && conflict->errnum == EEXIST) {
		cni_error_freep(err);
		*err = TAKE_PTR(conflict);
	}
	return cni_error_move(err, &undo_err);
}

/* ---- CHECK ----------------------------------------------------------------- */

static int check_tbf(struct netns *ns, int ifindex, const char *ifname, const struct bw_tbf *want,
		     struct cni_error **err)
{
	struct bw_qdisc q;
	int r = bw_qdisc_get(ns, ifindex, TC_H_ROOT, &q, err);

	if (r < 0)
		return -1;
	if (r == 0 || !q.has_tbf || q.handle != BW_HANDLE(1, 0))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "Failed to find qdisc: \"%s\" has no tbf 1: root qdisc (%s)",
				     ifname, r ? q.kind : "none");
	if (q.tbf.rate != want->rate)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "Rate doesn't match on \"%s\": %llu bytes/s, want %llu", ifname,
				     (unsigned long long)q.tbf.rate, (unsigned long long)want->rate);
	if (q.tbf.limit != want->limit)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "Limit doesn't match on \"%s\": %u bytes, want %u", ifname,
				     q.tbf.limit, want->limit);
	if (q.tbf.buffer != want->buffer)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "Buffer doesn't match on \"%s\": %u ticks, want %u", ifname,
				     q.tbf.buffer, want->buffer);
	return 0;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *host = NULL;
	cleanup_error struct cni_error *e = NULL;
	struct plan p;
	struct cnl_link hl, ifb;
	char name[IFNAMSIZ];
	int r;

	if (load_plan(cmd, &p, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "must be called as a chained plugin");
	if (netns_open_current(&host, err) < 0 ||
	    find_host_veth(host, cmd, cmd->conf->prev_result, &hl, err) < 0)
		return -1;
	if (p.in.on && check_tbf(host, hl.ifindex, hl.name, &p.in.tbf, err) < 0)
		return -1;
	if (!p.eg.on)
		return 0;
	ifb_name(cmd, name);
	if (bw_link_get(host, name, 0, &ifb, &e) < 0) {
		cni_error_move(err, &e);
		return cni_error_wrap(err, "get ifb device");
	}
	if (check_tbf(host, ifb.ifindex, name, &p.eg.tbf, err) < 0)
		return -1;
	r = bw_redirect_find(host, hl.ifindex, ifb.ifindex, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "no ingress redirect from \"%s\" to \"%s\"", hl.name, name);
	return 0;
}

/* ---- DEL, GC --------------------------------------------------------------- */

/*
 * The reference deletes only the ifb and leaves the veth's qdiscs to die
 * with the veth.  When the container's interface is still there, cnic also
 * removes what ADD put on the host veth - the root tbf 1: and, when it
 * redirects to this attachment's ifb, the ingress qdisc - so a DEL followed
 * by a new ADD on a surviving veth starts clean.  Nothing here needs the
 * config's rates, prevResult or the netns: whatever is gone is done.
 */
/*
 * The host end of CNI_IFNAME's veth, if that veth is still there: 1 and
 * *hl, or 0.  A lookup that finds nothing means there is nothing to clean;
 * other failures go to *err.
 */
static int surviving_veth(struct netns *host, const struct cni_cmd *cmd, struct cnl_link *hl,
			  struct cni_error **err)
{
	cleanup_error struct cni_error *e = NULL;
	struct cnl_link cl;

	if (container_link(cmd, &cl, &e) < 0 || strcmp(cl.kind, "veth") != 0 || cl.link <= 0 ||
	    bw_link_get(host, NULL, cl.link, hl, &e) < 0 || strcmp(hl->kind, "veth") != 0 ||
	    hl->link != cl.ifindex) {
		if (e && !cnl_not_found(e))
			cni_error_move(err, &e);
		return 0;
	}
	return 1;
}

/*
 * What ADD put on the host veth hl: a kernel refusal to delete is reported
 * (after the other steps ran).
 */
static void clean_veth(struct netns *host, const struct cnl_link *hl, int ifb, struct cni_error **err)
{
	cleanup_error struct cni_error *e = NULL;
	struct bw_qdisc q;
	int r;

	/*
	 * A redirect to ifindex 0 is one whose ifb is already gone (the
	 * reference's DEL, or GC, removed it): the kernel clears the target
	 * when the device goes.
	 */
	r = bw_redirect_find(host, hl->ifindex, ifb, &e);
	if (r < 0 ||
	    (r == 1 && bw_qdisc_del(host, hl->ifindex, TC_H_INGRESS, BW_HANDLE(0xffff, 0), &e) < 0))
		cni_error_move(err, &e);
	r = bw_qdisc_get(host, hl->ifindex, TC_H_ROOT, &q, &e);
	if (r < 0 || (r == 1 && q.has_tbf && q.handle == BW_HANDLE(1, 0) &&
		      bw_qdisc_del(host, hl->ifindex, TC_H_ROOT, BW_HANDLE(1, 0), &e) < 0))
		cni_error_move(err, &e);
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *host = NULL;
	cleanup_error struct cni_error *e = NULL, *first = NULL, *veth_err = NULL;
	struct cnl_link ifb, hl;
	bool have_ifb = false;
	char name[IFNAMSIZ];
	int have_veth = 0;

	ifb_name(cmd, name);
	if (netns_open_current(&host, err) < 0)
		return -1;
	/* The container first: its socket is closed before the host's opens (see container_link). */
	if (cmd->netns_fd >= 0)
		have_veth = surviving_veth(host, cmd, &hl, &veth_err);
	if (bw_link_get(host, name, 0, &ifb, &e) == 0)
		/* A link of that name that is not an ifb is not ours. */
		have_ifb = strcmp(ifb.kind, "ifb") == 0;
	else if (!cnl_not_found(e))
		cni_error_move(&first, &e);
	cni_error_freep(&e);
	if (veth_err)
		cni_error_move(&first, &veth_err);

	if (have_veth)
		clean_veth(host, &hl, have_ifb ? ifb.ifindex : 0, &first);
	if (have_ifb && bw_link_del(host, name, &e) < 0)
		cni_error_move(&first, &e);
	if (first)
		return cni_error_move(err, &first);
	return 0;
}

/*
 * ifbs cnic made carry the alias "cnic-bandwidth:<network>": those of this
 * network whose name is not derived from a valid attachment are leftovers
 * (a DEL that never came).  The reference's ifbs have no alias and their
 * network cannot be told from the name, so they are left alone.
 */
static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	const struct cni_netconf *nc = cmd->conf;
	cleanup_netns struct netns *host = NULL;
	cleanup_free struct bw_ifb *v = NULL;
	cleanup_free char *alias = NULL;
	size_t n = 0;

	if (!nc->has_valid_attachments)
		return 0;
	alias = xasprintf(ALIAS_PREFIX "%s", nc->name);
	if (netns_open_current(&host, err) < 0 || bw_ifb_list(host, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool valid = false;

		if (strcmp(v[i].alias, alias) != 0)
			continue;
		for (size_t j = 0; j < nc->n_valid_attachments && !valid; j++) {
			cleanup_free char *s =
				xasprintf("%s%s", nc->name, nc->valid_attachments[j].container_id);
			char want[IFNAMSIZ];

			sha512_name(IFB_PREFIX, s, strlen(s), IFNAMSIZ - 1, want);
			valid = strcmp(want, v[i].name) == 0;
		}
		if (!valid) {
			cleanup_error struct cni_error *e = NULL;

			if (bw_link_del(host, v[i].name, &e) < 0)
				cni_error_move(err, &e);
		}
	}
	return *err ? -1 : 0;
}

static const struct cni_plugin plugin = {
	.name = "bandwidth",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.min_version = CNI_V030,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
