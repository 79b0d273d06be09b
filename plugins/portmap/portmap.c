/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap: a chained plugin forwarding host ports to the container
 * (runtimeConfig.portMappings), on nftables through libnftnl in a table of
 * its own (layout and reasons in nftables.c, user docs in docs/portmap.md).
 *
 * Every element is tagged with (network, container id, ifname), so DEL
 * needs neither portMappings nor prevResult, one container on two networks
 * is two owners, GC deletes what no valid attachment owns, and CHECK looks
 * up each mapping.  Each ADD and DEL is one nftables transaction.
 *
 * This file holds the verbs (cmd_add, cmd_check, cmd_del, cmd_gc) and
 * what only they need: host-port conflicts, conntrack, route_localnet.
 * The other files are listed in portmap.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/conntrack.h"
#include "../../pkg/link.h"
#include "../../pkg/log.h"
#include "../../pkg/netns.h"
#include "../../pkg/nft_owned.h"
#include "../../pkg/route.h"
#include "../../pkg/skel.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/xtref.h" /* adopt: the reference's rules */
#include "portmap.h"

/* ---- reading the network's sets ----------------------------------------- */

struct net_elems {
	struct nft_elem_list l[PM_SET_COUNT];
};

static void net_elems_free(struct net_elems *e)
{
	for (int i = 0; i < PM_SET_COUNT; i++)
		nft_elem_list_free(&e->l[i]);
}

static int read_net(struct nft *n, const struct pm_names *nm, struct net_elems *ret,
		    struct cni_error **err)
{
	struct net_elems e = { 0 };

	for (int i = 0; i < PM_SET_COUNT; i++) {
		if (nft_list_elems(n, PM_FAMILY, PM_TABLE, pm_set_name(nm, (enum pm_set)i), &e.l[i],
				   err) < 0) {
			net_elems_free(&e);
			return -1;
		}
	}
	*ret = e;
	return 0;
}

/* UDP host ports of map elements (their key ends in proto . port). */
static void note_udp_port(enum pm_set set, const struct nft_elem_info *e, uint16_t **ports, size_t *n)
{
	size_t off;

	if (set > PM_ANY6 || e->key_len < 8)
		return;
	off = e->key_len - 8;
	if (e->key[off] != IPPROTO_UDP)
		return;
	*(uint16_t *)xappend(ports, n, sizeof(uint16_t)) =
		(uint16_t)(e->key[off + 4] << 8 | e->key[off + 5]);
}

/*
 * Queue deletion of the elements drop() picks, noting their UDP host ports.
 * Returns how many.
 */
static size_t queue_drop(struct nft_batch *b, const struct pm_names *nm, const struct net_elems *ne,
			 bool (*drop)(const struct nft_elem_info *e, void *arg), void *arg,
			 uint16_t **udp, size_t *n_udp)
{
	size_t total = 0;

	for (int i = 0; i < PM_SET_COUNT; i++) {
		cleanup_free struct nft_elem *v = NULL;
		size_t n = 0;

		for (size_t j = 0; j < ne->l[i].n; j++) {
			if (!drop(&ne->l[i].v[j], arg))
				continue;
			nft_elem_from_info(xappend(&v, &n, sizeof(*v)), &ne->l[i].v[j]);
			if (udp)
				note_udp_port((enum pm_set)i, &ne->l[i].v[j], udp, n_udp);
		}
		if (n)
			nft_batch_del_elems(b, PM_FAMILY, PM_TABLE, pm_set_name(nm, (enum pm_set)i),
					    v, n);
		total += n;
	}
	return total;
}

static bool owned_by(const struct nft_elem_info *e, void *tag)
{
	return e->comment && pm_comment_is_tag(e->comment, tag);
}

/* ---- conntrack and route_localnet --------------------------------------- */

/* Stale UDP flows would keep their old NAT decision: forget them (failures only logged). */
static void flush_udp(struct nft *n, const uint16_t *ports, size_t n_ports, bool v4, bool v6)
{
	struct cni_error *e = NULL;

	/* One look at the table for both families: nothing tracked, nothing to forget. */
	if (!n_ports || conntrack_count() <= 0)
		return;
	if (v4 && conntrack_delete_by_dport(nft_netlink(n), AF_INET, IPPROTO_UDP, ports, n_ports,
					    &e) < 0) {
		cni_log("portmap: flushing IPv4 UDP conntrack entries: %s", e->msg);
		cni_error_freep(&e);
	}
	if (v6 && conntrack_delete_by_dport(nft_netlink(n), AF_INET6, IPPROTO_UDP, ports, n_ports,
					    &e) < 0) {
		cni_log("portmap: flushing IPv6 UDP conntrack entries: %s", e->msg);
		cni_error_freep(&e);
	}
}

static void udp_ports_of(const struct pm_attachment *a, uint16_t **ports, size_t *n)
{
	for (size_t i = 0; i < a->elems.n; i++) {
		const struct pm_elem *e = &a->elems.v[i];
		bool seen = false;

		if (e->set > PM_ANY6 || e->proto != IPPROTO_UDP)
			continue;
		for (size_t j = 0; j < *n; j++)
			seen |= (*ports)[j] == e->host_port;
		if (!seen)
			*(uint16_t *)xappend(ports, n, sizeof(uint16_t)) = (uint16_t)e->host_port;
	}
}

/*
 * The interface the node routes the container's IPv4 address through
 * (longest prefix in the main table): 1 and its name in *ret, 0 when the
 * node has no route to it (e.g. chained after macvlan: the container is
 * reached through the parent's network, not through the node).
 */
static int localnet_iface(const struct ipnet *ctr, char **ret, struct cni_error **err)
{
	cleanup_netns struct netns *ns = NULL;
	struct cnl_route_list routes = { 0 };
	struct cnl_link link;
	int best = -1, ifindex = 0;

	if (netns_open_current(&ns, err) < 0 ||
	    cnl_route_list(ns, AF_INET, 254 /* main */, 0, &routes, err) < 0)
		return -1;
	for (size_t i = 0; i < routes.n; i++) {
		const struct cnl_route *rt = &routes.v[i];
		if (rt->ifindex && ipnet_contains(&rt->dst, &ctr->addr) && rt->dst.prefix > best) {
			best = rt->dst.prefix;
			ifindex = rt->ifindex;
		}
	}
	cnl_route_list_free(&routes);
	if (!ifindex)
		return 0;
	if (cnl_link_get_by_index(ns, ifindex, &link, err) < 0)
		return -1;
	*ret = xstrdup(link.name);
	return 1;
}

/*
 * route_localnet=1 on that interface, so that connections to 127.0.0.1 can
 * be DNATed there; only when a mapping is reachable on 127.0.0.1, and only
 * ever together with the martian drop rule.
 */
static int set_route_localnet(const char *ifname, struct cni_error **err)
{
	cleanup_free char *name = xasprintf("net/ipv4/conf/%s/route_localnet", ifname);

	return sysctl_ensure_net(NULL, name, "1", err) < 0 ? -1 : 0;
}

/*
 * No route to the container: map it all the same (the reference does;
 * traffic reaches it through whatever path the node's routes give), but
 * without the 127.0.0.1 part, which needs an interface to enable
 * route_localnet on.  Its LO4 element goes too.
 */
static void drop_localnet(struct pm_attachment *a)
{
	size_t out = 0;

	a->localnet = false;
	for (size_t i = 0; i < a->elems.n; i++)
		if (a->elems.v[i].set != PM_LO4)
			a->elems.v[out++] = a->elems.v[i];
	a->elems.n = out;
}

/* ---- ADD ---------------------------------------------------------------- */

struct conflict_ctx {
	const struct pm_attachment *a;
	const char *conflict_owner; /* first mapping clash with another owner */
	const struct pm_elem *conflict;
};

/* Stale for a re-ADD: our own elements and whatever holds one of our keys. */
static bool stale_for_add(const struct nft_elem_info *e, void *arg)
{
	const struct pm_attachment *a = ((struct conflict_ctx *)arg)->a;

	if (e->comment && pm_comment_is_tag(e->comment, a->tag))
		return true;
	for (size_t i = 0; i < a->elems.n; i++) {
		const struct pm_elem *k = &a->elems.v[i];
		if (!e->key_end_len && e->key_len == k->key_len &&
		    memcmp(e->key, k->key, k->key_len) == 0)
			return true;
	}
	return false;
}

/* A mapping key held by another owner: refuse (documented in docs/portmap.md). */
static void find_conflict(const struct net_elems *ne, struct conflict_ctx *c)
{
	for (size_t i = 0; i < c->a->elems.n && !c->conflict; i++) {
		const struct pm_elem *k = &c->a->elems.v[i];
		const struct nft_elem_list *l = &ne->l[k->set];

		if (k->set > PM_ANY6)
			continue;
		for (size_t j = 0; j < l->n; j++) {
			const struct nft_elem_info *e = &l->v[j];
			if (e->key_len != k->key_len || memcmp(e->key, k->key, k->key_len) != 0)
				continue;
			if (e->comment && strcmp(e->comment, c->a->tag) == 0)
				continue;
			c->conflict = k;
			c->conflict_owner = e->comment ? e->comment : "(untagged)";
			break;
		}
	}
}

/* One request per set (of many elements each), whatever the number of mappings. */
static void queue_adds(struct nft_batch *b, const struct pm_names *nm, const struct pm_attachment *a)
{
	cleanup_free struct nft_elem *v = xcalloc(a->elems.n ? a->elems.n : 1, sizeof(*v));

	for (size_t i = 0; i < a->elems.n;) {
		enum pm_set set = a->elems.v[i].set;
		size_t first = i;

		for (; i < a->elems.n && a->elems.v[i].set == set; i++) {
			const struct pm_elem *k = &a->elems.v[i];

			pm_elem_view(k, k->set == PM_OWNERS && a->index ? a->index : a->tag, &v[i]);
		}
		nft_batch_add_elems(b, PM_FAMILY, PM_TABLE, pm_set_name(nm, set), v + first,
				    i - first, true);
	}
}

/* Is [lo2, hi2] within [lo1, hi1], field by field (alen bytes each, two fields)? */
static bool range_within(const uint8_t *lo1, const uint8_t *hi1, const uint8_t *lo2,
			 const uint8_t *hi2, uint32_t alen)
{
	for (uint32_t f = 0; f < 2; f++)
		if (memcmp(lo1 + f * alen, lo2 + f * alen, alen) > 0 ||
		    memcmp(hi2 + f * alen, hi1 + f * alen, alen) > 0)
			return false;
	return true;
}

/*
 * The subnet elements of N-hs4/6, added without NLM_F_EXCL: an identical
 * one is a no-op.  The kernel refuses some overlaps (EEXIST: a smaller
 * subnet inside a bigger one; subnets can only overlap by nesting): with
 * ne (what the sets hold), an element covered by an existing one is
 * skipped, and existing ones inside it are replaced.
 */
static void queue_hs(struct nft_batch *b, const struct pm_names *nm, const struct pm_attachment *a,
		     const struct net_elems *ne)
{
	for (size_t i = 0; i < a->n_hs; i++) {
		const struct pm_elem *k = &a->hs[i];
		const char *set = pm_set_name(nm, k->set);
		uint32_t alen = k->key_len / 2;
		bool covered = false;
		struct nft_elem e;

		for (size_t j = 0; ne && j < ne->l[k->set].n && !covered; j++) {
			const struct nft_elem_info *o = &ne->l[k->set].v[j];
			covered = o->key_len == k->key_len && o->key_end_len == k->key_end_len &&
				  range_within(o->key, o->key_end, k->key, k->key_end, alen);
		}
		if (covered)
			continue;
		for (size_t j = 0; ne && j < ne->l[k->set].n; j++) {
			const struct nft_elem_info *o = &ne->l[k->set].v[j];
			if (o->key_len == k->key_len && o->key_end_len == k->key_end_len &&
			    range_within(k->key, k->key_end, o->key, o->key_end, alen)) {
				nft_elem_from_info(&e, o);
				nft_batch_del_elems(b, PM_FAMILY, PM_TABLE, set, &e, 1);
			}
		}
		pm_elem_view(k, NULL, &e);
		nft_batch_add_elems(b, PM_FAMILY, PM_TABLE, set, &e, 1, false);
	}
}

/* "network \"N\", container 0123456789ab" from an owner tag, for messages. */
static char *tag_owner_words(const char *tag)
{
	const char *c1 = strchr(tag, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (!c1)
		return xasprintf("\"%s\"", tag);
	if (!c2) /* hashed attachment part */
		return xasprintf("network \"%.*s\", attachment %s", (int)(c1 - tag), tag, c1 + 1);
	return xasprintf("network \"%.*s\", container %.*s (%s)", (int)(c1 - tag), tag,
			 (int)(c2 - c1 - 1 < 12 ? c2 - c1 - 1 : 12), c1 + 1, c2 + 1);
}

struct add_ctx {
	const struct cni_cmd *cmd;
	const struct pm_conf *conf;
	const struct pm_attachment *a;
	struct pm_names nm;
};

/*
 * Attempt 0 adds blindly, exclusively: the common case costs one round
 * trip.  A key that exists (EEXIST) is a re-ADD of this attachment (its
 * owner element is there), a leak of an address IPAM handed out again, or
 * a host port another attachment maps: the later attempts read the sets,
 * replace the first two and refuse the last.
 */
static ssize_t plan_add(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct add_ctx *c = arg;
	const char *net = c->cmd->conf->name;
	struct conflict_ctx cc = { .a = c->a };
	struct net_elems ne;
	char buf[IPADDR_STRLEN];

	if (attempt == 0) {
		if (pm_queue_skeleton(n, b, net, c->conf, c->a->localnet, err) < 0)
			return -1;
		queue_adds(b, &c->nm, c->a);
		queue_hs(b, &c->nm, c->a, NULL);
		return (ssize_t)nft_batch_len(b);
	}
	if (read_net(n, &c->nm, &ne, err) < 0)
		return -1;
	find_conflict(&ne, &cc);
	if (cc.conflict) {
		const struct pm_elem *k = cc.conflict;
		bool host = k->set == PM_HIP4 || k->set == PM_HIP6;
		struct ipaddr h = { .family = k->set == PM_HIP4 ? AF_INET : AF_INET6 };
		cleanup_free char *other = tag_owner_words(cc.conflict_owner);

		if (host)
			memcpy(h.b, k->key, ipaddr_len(&h));
		/* Named first: runtimes show this message without saying which pod it was. */
		cni_error_set(err, CNI_ERR_PORT_TAKEN, EEXIST,
			      "network \"%s\", container %.12s: host port %s%s%d/%s is already "
			      "mapped by %s",
			      net, c->cmd->container_id, host ? ipaddr_fmt(&h, buf) : "",
			      host ? ":" : "", k->host_port, pm_proto_name(k->proto), other);
		cni_error_add_details(err, "owner tag %s; DEL (or GC) that attachment first",
				      cc.conflict_owner);
		net_elems_free(&ne);
		return -1;
	}
	if (pm_queue_skeleton(n, b, net, c->conf, c->a->localnet, err) < 0) {
		net_elems_free(&ne);
		return -1;
	}
	(void)queue_drop(b, &c->nm, &ne, stale_for_add, &cc, NULL, NULL);
	queue_adds(b, &c->nm, c->a);
	queue_hs(b, &c->nm, c->a, &ne);
	net_elems_free(&ne);
	return (ssize_t)nft_batch_len(b);
}

static int add_elements(struct nft *n, const struct cni_cmd *cmd, const struct pm_conf *conf,
			const struct pm_attachment *a, struct cni_error **err)
{
	struct add_ctx c = { .cmd = cmd, .conf = conf, .a = a };

	pm_names_for(cmd->conf->name, &c.nm);
	return nft_apply(n, plan_add, &c, err);
}

static int delete_owned(struct nft *n, const char *network, const char *tag, bool flush,
			const char *const *known, struct cni_error **err);

/*
 * ADD and CHECK need a prevResult, asked for only once the config parsed
 * (its errors come first); `what` labels the error as the command's others.
 */
static int conf_chained(const struct cni_cmd *cmd, struct pm_conf *conf, const char *what,
			struct cni_error **err)
{
	if (pm_conf_parse(cmd, conf, err) < 0)
		return -1;
	if (cmd->conf->prev_result)
		return 0;
	pm_conf_free(conf);
	cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
		      "must be called as chained plugin (no prevResult)");
	cni_error_wrap(err, "%s", what);
	return -1;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	struct pm_conf conf;
	struct pm_attachment a = { 0 };
	cleanup_nft struct nft *n = NULL;
	cleanup_free uint16_t *udp = NULL;
	cleanup_free char *lo_if = NULL;
	size_t n_udp = 0;
	int r = -1;

	if (conf_chained(cmd, &conf, "portmap", err) < 0)
		return -1;
	if (cmd->conf->rc.n_port_mappings == 0) {
		*ret = cni_result_dup(cmd->conf->prev_result);
		r = 0;
		goto out;
	}
	if (pm_attachment_for_add(cmd, &conf, &a, err) < 0)
		goto out;
	if (a.elems.n == 1) { /* only the owner: no address to map to */
		*ret = cni_result_dup(cmd->conf->prev_result);
		r = 0;
		goto out;
	}
	if (a.localnet) {
		int x = localnet_iface(&a.v4, &lo_if, err);

		if (x < 0)
			goto out;
		if (x == 0) {
			char buf[IPADDR_STRLEN];

			cni_log("portmap: no route to container address %s on the node: its mappings "
				"are not reachable on 127.0.0.1 (other addresses are)",
				ipaddr_fmt(&a.v4.addr, buf));
			drop_localnet(&a);
		}
	}
	if (nft_open(&n, err) < 0 || add_elements(n, cmd, &conf, &a, err) < 0)
		goto out;
	if (a.localnet && set_route_localnet(lo_if, err) < 0) {
		struct cni_error *undo = NULL;

		/* Undo our elements; a failure of that is reported after the original. */
		if (delete_owned(n, cmd->conf->name, a.tag, false, NULL, &undo) < 0) {
			cni_error_wrap(&undo, "undo");
			cni_error_move(err, &undo);
		}
		goto out;
	}
	udp_ports_of(&a, &udp, &n_udp);
	flush_udp(n, udp, n_udp, ipaddr_is_set(&a.v4.addr), ipaddr_is_set(&a.v6.addr));
	*ret = cni_result_dup(cmd->conf->prev_result);
	r = 0;
out:
	if (r < 0)
		cni_error_wrap(err, "portmap");
	pm_attachment_free(&a);
	pm_conf_free(&conf);
	return r;
}

/* ---- DEL ---------------------------------------------------------------- */

struct del_ctx {
	const struct pm_names *nm;
	const char *tag;
	const struct pm_attachment *a; /* indexed: the keys to look up; NULL: read the sets */
	uint16_t *udp;		       /* UDP host ports of what the batch deletes */
	size_t n_udp;
};

/*
 * DEL through the owner element's index: look each key up, all in one
 * round trip, and delete those still tagged with tag (an element another
 * attachment holds by now is not ours to delete) and the owner element,
 * in one transaction.
 */
static ssize_t plan_del_indexed(struct nft *n, struct nft_batch *b, int attempt, void *arg,
				struct cni_error **err)
{
	struct del_ctx *c = arg;
	size_t k = c->a->elems.n;
	cleanup_free const char **sets = xcalloc(k ? k : 1, sizeof(*sets));
	cleanup_free struct nft_elem *keys = xcalloc(k ? k : 1, sizeof(*keys));
	cleanup_free struct nft_elem_info *info = xcalloc(k ? k : 1, sizeof(*info));
	cleanup_free int *found = xcalloc(k ? k : 1, sizeof(*found));

	(void)attempt;
	free(c->udp);
	c->udp = NULL;
	c->n_udp = 0;
	for (size_t i = 0; i < k; i++) {
		sets[i] = pm_set_name(c->nm, c->a->elems.v[i].set);
		pm_elem_view(&c->a->elems.v[i], NULL, &keys[i]);
	}
	if (nft_get_elems(n, PM_FAMILY, PM_TABLE, sets, keys, k, info, found, err) < 0)
		return -1;
	for (size_t i = 0; i < k; i++) {
		if (!found[i])
			continue;
		if (info[i].comment && pm_comment_is_tag(info[i].comment, c->tag)) {
			nft_batch_del_elems(b, PM_FAMILY, PM_TABLE, sets[i], &keys[i], 1);
			note_udp_port(c->a->elems.v[i].set, &info[i], &c->udp, &c->n_udp);
		}
		nft_elem_info_free(&info[i]);
	}
	/* Nothing left: the owner element went meanwhile (a concurrent DEL or GC). */
	return (ssize_t)nft_batch_len(b);
}

/* DEL without a usable index: read the network's sets, delete what tag owns. */
static ssize_t plan_del_read(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			     struct cni_error **err)
{
	struct del_ctx *c = arg;
	struct net_elems ne;
	size_t found;

	(void)attempt;
	free(c->udp);
	c->udp = NULL;
	c->n_udp = 0;
	if (read_net(n, c->nm, &ne, err) < 0)
		return -1;
	found = queue_drop(b, c->nm, &ne, (bool (*)(const struct nft_elem_info *, void *))owned_by,
			   (void *)c->tag, &c->udp, &c->n_udp);
	net_elems_free(&ne);
	return (ssize_t)found;
}

/*
 * Delete tag's elements of network; flush: also the UDP conntrack entries
 * of their ports.  known: the owner element's comment when the caller has
 * just read it (exists: the element is there), else it is looked up here
 * (no owner element: nothing of ours, no need to read the sets).  err
 * may be NULL (the ADD rollback).
 */
static int delete_owned(struct nft *n, const char *network, const char *tag, bool flush,
			const char *const *known, struct cni_error **err)
{
	struct pm_names nm;
	struct nft_owner owner;
	struct cni_error *local = NULL;
	struct pm_attachment a = { 0 };
	struct del_ctx c = { .nm = &nm, .tag = tag };
	cleanup_free char *comment = NULL;
	const char *cm;
	int r = 1;

	pm_names_for(network, &nm);
	if (known) {
		cm = *known;
	} else {
		nft_owner_for(&owner, tag, NULL);
		r = nft_owner_get(n, PM_FAMILY, PM_TABLE, nm.owners, &owner, &comment, &local);
		cm = comment;
	}
	if (r == 1 && cm && pm_attachment_from_index(tag, cm, &a) == 0) {
		c.a = &a;
		r = nft_apply(n, plan_del_indexed, &c, &local);
	} else if (r == 1) {
		r = nft_apply(n, plan_del_read, &c, &local);
	}
	if (r == 0 && flush)
		flush_udp(n, c.udp, c.n_udp, true, true);
	free(c.udp);
	pm_attachment_free(&a);
	return r < 0 ? cni_error_move(err, &local) : 0;
}

/* Guarded last-attachment DELs redone after another commit came between. */
#define DEL_TRIES 4

/*
 * The last attachment's DEL, guarded by gen (read before anything it
 * decided on): the network's objects (with_table: the table) in one
 * transaction, then the UDP flows of its ports.  1 when another commit
 * came between (read again), 0 done, -1 error.
 */
static int del_last(struct nft *n, const char *network, const uint16_t *udp, size_t n_udp,
		    bool with_table, uint32_t gen, struct cni_error **err)
{
	cleanup_nft_batch struct nft_batch *b = nft_batch_new();
	struct cni_error *e = NULL;

	pm_queue_del_last(b, network, with_table);
	nft_batch_guard(b, gen);
	if (nft_batch_commit(n, b, &e) < 0) {
		/* ENOENT: a concurrent teardown took some of it; read again, it says what is left. */
		if (e->errnum == ERESTART || e->errnum == ENOENT) {
			cni_error_freep(&e);
			return 1;
		}
		return cni_error_move(err, &e);
	}
	flush_udp(n, udp, n_udp, true, true);
	return 0;
}

/*
 * Not the last attachment: our elements only (those of index, or without
 * one those the sets say are tag's), in a transaction guarded by gen, so
 * that of the network's last two DELs at once, each having seen the
 * other, the later reads again and finds itself the last.  1 when another
 * commit came between (read again), 0 done, -1 error.
 */
static int del_mine(struct nft *n, const struct pm_names *nm, const char *tag, const char *index,
		    uint32_t gen, struct cni_error **err)
{
	cleanup_nft_batch struct nft_batch *b = nft_batch_new();
	struct pm_attachment a = { 0 };
	struct del_ctx c = { .nm = nm, .tag = tag };
	struct cni_error *e = NULL;
	ssize_t k;
	int r = 0;

	if (index && pm_attachment_from_index(tag, index, &a) == 0) {
		c.a = &a;
		k = plan_del_indexed(n, b, 0, &c, err);
	} else {
		k = plan_del_read(n, b, 0, &c, err);
	}
	pm_attachment_free(&a);
	if (k < 0) {
		r = -1;
	} else if (k > 0) {
		nft_batch_guard(b, gen);
		if (nft_batch_commit(n, b, &e) < 0) {
			r = e->errnum == ERESTART || e->errnum == ENOENT ? 1 : -1;
			if (r == 1)
				cni_error_freep(&e);
			else
				cni_error_move(err, &e);
		}
	}
	if (r == 0)
		flush_udp(n, c.udp, c.n_udp, true, true);
	free(c.udp);
	return r;
}

/*
 * Needs neither prevResult nor portMappings nor the netns: the tag finds
 * everything.  Its kernel work: one read (the generation, our owner
 * element by key, whether the owner set, our table, the reference's
 * cni_hostport tables and our attachment's CNI-DN chain in the nat
 * tables exist, in one round trip, whatever the network holds), then
 * whether the owner set holds another attachment (a socket of its own,
 * stopping at the first).  The last attachment: one transaction guarded
 * by that generation removes the network's objects (a concurrent ADD or
 * DEL makes it fail, and it is read again), the set elements going with
 * their sets.  Otherwise one more read for the attachment's elements (by
 * key, in one round trip: one another attachment holds by now is not ours
 * to delete) and one transaction, guarded the same way, deleting them.
 */
static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(cmd->conf->name, cmd->container_id, cmd->ifname);
	struct nft_table_ref t[1 + XTREF_PORTMAP_TABLES] = { { PM_FAMILY, PM_TABLE, false, 0 } };
	struct nft_chain_ref ch[XTREF_PORTMAP_TABLES];
	bool xt[XTREF_PORTMAP_TABLES] = { false };
	int xt_at[XTREF_PORTMAP_TABLES]; /* t[] index, or -(ch[] index) - 1 */
	cleanup_nft struct nft *n = NULL;
	cleanup_free uint16_t *udp = NULL;
	struct cni_error *e = NULL;
	struct nft_owner owner;
	struct pm_names nm;
	char dn[29];
	size_t nt = 1, nc = 0, n_udp = 0;
	int r = 0;

	pm_names_for(cmd->conf->name, &nm);
	nft_owner_for(&owner, tag, NULL);
	xtref_dnat_chain(cmd->conf->name, cmd->container_id, dn);
	for (int i = 0; i < XTREF_PORTMAP_TABLES; i++) {
		const struct xtref_table *x = &xtref_portmap_tables[i];

		if (x->by_chain) {
			ch[nc] = (struct nft_chain_ref){ x->family, x->name, dn, false };
			xt_at[i] = -(int)nc++ - 1;
		} else {
			t[nt] = (struct nft_table_ref){ x->family, x->name, false, 0 };
			xt_at[i] = (int)nt++;
		}
	}
	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "portmap");
	for (int attempt = 0;; attempt++) {
		struct nft_elem_info mine = { 0 };
		uint32_t gen = 0;
		struct nft_also also = { .tables = t, .nt = nt, .chains = ch, .nc = nc, .genid = &gen };
		struct pm_attachment a = { 0 };
		bool have_set = false, indexed = false;
		int found, others = 0;

		free(udp);
		udp = NULL;
		n_udp = 0;

		found = nft_get_elem_also(n, PM_FAMILY, PM_TABLE, nm.owners, &owner.elem, &mine,
					  &have_set, &also, err);
		if (found < 0)
			return cni_error_wrap(err, "portmap");
		/*
		 * No owner element but the owner set: a network an earlier DEL
		 * did not finish tearing down, if no other attachment is there.
		 */
		if (found == 1 || have_set)
			others = nft_set_has_other(n, PM_FAMILY, PM_TABLE, nm.owners,
						   found == 1 ? &owner.elem : NULL, err);
		if (others < 0) {
			nft_elem_info_free(&mine);
			return cni_error_wrap(err, "portmap");
		}
		/* The UDP ports to forget: the owner's index says (without one, the sets do). */
		if (found == 1 && mine.comment &&
		    pm_attachment_from_index(tag, mine.comment, &a) == 0) {
			indexed = true;
			udp_ports_of(&a, &udp, &n_udp);
		}
		pm_attachment_free(&a);
		if (found == 1 && attempt + 1 >= DEL_TRIES) {
			/*
			 * Kept losing races (a busy ruleset): our elements
			 * unguarded, then the teardown that probes every set
			 * after our commit, as GC's.
			 */
			const char *comment = mine.comment;

			r = delete_owned(n, cmd->conf->name, tag, true, &comment, err);
			nft_elem_info_free(&mine);
			if (r < 0)
				return cni_error_wrap(err, "portmap");
			if (pm_teardown(n, cmd->conf->name, &e) < 0)
				nft_teardown_log("portmap", &e);
			break;
		}
		if (found == 1 && (others || !indexed)) {
			/* Without an index, the teardown (if last) is the next round's. */
			r = del_mine(n, &nm, tag, mine.comment, gen, err);
			nft_elem_info_free(&mine);
			if (r < 0)
				return cni_error_wrap(err, "portmap");
			if (r == 0 && others)
				break;
			continue;
		}
		nft_elem_info_free(&mine);
		if (found == 0 && (!have_set || others || attempt + 1 >= DEL_TRIES))
			break;
		r = del_last(n, cmd->conf->name, udp, n_udp, t[0].use <= PM_NET_OBJECTS, gen,
			     found == 1 ? err : &e);
		if (r < 0 && found == 1)
			return cni_error_wrap(err, "portmap");
		if (r < 0)
			nft_teardown_log("portmap", &e);
		if (r <= 0)
			break;
	}
	for (int i = 0; i < XTREF_PORTMAP_TABLES; i++)
		xt[i] = xt_at[i] >= 0 ? t[xt_at[i]].present : ch[-xt_at[i] - 1].present;
	return xtref_portmap_del_present(n, xt, cmd->conf->name, cmd->container_id, err); /* adopt */
}

/* ---- CHECK -------------------------------------------------------------- */

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	struct pm_conf conf;
	struct pm_attachment a = { 0 };
	cleanup_nft struct nft *n = NULL;
	struct pm_names nm;
	int r = -1;

	if (conf_chained(cmd, &conf, "portmap CHECK", err) < 0)
		return -1;
	if (cmd->conf->rc.n_port_mappings == 0) {
		r = 0;
		goto out;
	}
	if (pm_attachment_for_add(cmd, &conf, &a, err) < 0 || nft_open(&n, err) < 0)
		goto out;
	if (a.localnet) {
		cleanup_free char *lo_if = NULL;
		int x = localnet_iface(&a.v4, &lo_if, err);

		if (x < 0)
			goto out;
		if (x == 0) /* as ADD: no 127.0.0.1 part without a route */
			drop_localnet(&a);
	}
	pm_names_for(cmd->conf->name, &nm);
	{
		const char *chains[] = { nm.pre, nm.out, nm.dnat };
		for (size_t i = 0; i < ARRAY_SIZE(chains); i++) {
			int x = nft_exists(n, PM_FAMILY, PM_TABLE, chains[i], err);
			if (x < 0)
				goto out;
			if (x == 0) {
				cni_error_set(err, CNI_ERR_INTERNAL, 0,
					      "chain inet %s %s is missing", PM_TABLE, chains[i]);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < a.elems.n; i++) {
		const struct pm_elem *k = &a.elems.v[i];
		struct nft_elem_info info = { 0 };
		struct nft_elem key;
		bool ok;
		int x;

		pm_elem_view(k, NULL, &key);
		x = nft_get_elem(n, PM_FAMILY, PM_TABLE, pm_set_name(&nm, k->set), &key, &info, err);
		if (x < 0)
			goto out;
		ok = x == 1 && info.comment && pm_comment_is_tag(info.comment, a.tag) &&
		     info.data_len == k->data_len && memcmp(info.data, k->data, k->data_len) == 0;
		nft_elem_info_free(&info);
		if (!ok) {
			if (k->set <= PM_ANY6)
				cni_error_set(err, CNI_ERR_INTERNAL, 0,
					      "host port %d/%s is not mapped to this container "
					      "(set inet %s %s)",
					      k->host_port, pm_proto_name(k->proto), PM_TABLE,
					      pm_set_name(&nm, k->set));
			else
				cni_error_set(err, CNI_ERR_INTERNAL, 0,
					      "element of %s missing from set inet %s %s", a.tag,
					      PM_TABLE, pm_set_name(&nm, k->set));
			goto out;
		}
	}
	r = 0;
out:
	if (r < 0)
		cni_error_wrap(err, "portmap CHECK");
	pm_attachment_free(&a);
	pm_conf_free(&conf);
	return r;
}

/* ---- GC ----------------------------------------------------------------- */

static bool orphan(const struct nft_elem_info *e, void *arg)
{
	return e->comment && nft_live_stale(arg, e->comment, pm_comment_tag_len(e->comment));
}

/*
 * Subnet elements no longer needed: no container address left in N-hc4/6
 * (after this GC) lies in them.  An ADD racing with GC can lose its
 * subnet's element this way; its next ADD puts it back.
 */
static size_t gc_queue_hs(struct nft_batch *b, const struct pm_names *nm,
			  const struct net_elems *ne, struct nft_live *live)
{
	size_t total = 0;

	for (int v6 = 0; v6 < 2; v6++)
		total += nft_queue_unused_subnets(b, PM_FAMILY, PM_TABLE,
						  pm_set_name(nm, v6 ? PM_HS6 : PM_HS4),
						  &ne->l[v6 ? PM_HS6 : PM_HS4],
						  &ne->l[v6 ? PM_HC6 : PM_HC4], v6 ? 16 : 4, orphan,
						  live);
	return total;
}

struct pm_gc_scan {
	struct pm_names nm;
	struct nft_live live;
	uint16_t *udp;
	size_t n_udp;
};

static ssize_t plan_gc(struct nft *n, struct nft_batch *b, int attempt, void *arg,
		       struct cni_error **err)
{
	struct pm_gc_scan *c = arg;
	struct net_elems ne;
	size_t found;

	(void)attempt;
	free(c->udp);
	c->udp = NULL;
	c->n_udp = 0;
	if (read_net(n, &c->nm, &ne, err) < 0)
		return -1;
	found = queue_drop(b, &c->nm, &ne, orphan, &c->live, &c->udp, &c->n_udp);
	found += gc_queue_hs(b, &c->nm, &ne, &c->live);
	net_elems_free(&ne);
	return (ssize_t)found;
}

static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_nft struct nft *n = NULL;
	struct cni_error *local = NULL;
	struct pm_gc_scan c = { 0 };
	int r = 0;

	pm_names_for(cmd->conf->name, &c.nm);
	nft_live_init(&c.live, cmd->conf);
	/* No list (absent or null): nothing is known stale, so nothing goes. */
	if (c.live.known && (r = nft_open(&n, &local)) == 0) {
		r = nft_apply(n, plan_gc, &c, &local);
		if (r == 0)
			flush_udp(n, c.udp, c.n_udp, true, true);
		if (r == 0 && pm_teardown(n, cmd->conf->name, &local) < 0)
			nft_teardown_log("portmap GC", &local);
	}
	if (r == 0)
		r = xtref_portmap_gc(n, cmd->conf, &local); /* adopt */
	free(c.udp);
	nft_live_free(&c.live);
	if (r < 0) {
		cni_error_wrap(&local, "portmap GC");
		return cni_error_move(err, &local);
	}
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "portmap",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
