/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sbr: source-based routing for a chained interface.  For every address of
 * CNI_IFNAME in the prevResult: a rule "from <ip> lookup <table>", a table
 * of its own (the first free from 100) holding the interface's routes and a
 * default route via the gateway; the interface's routes then leave the main
 * table.  With "table", only the rules, into that table.  Keys: table,
 * gateways, addSourceHints.  CHECK verifies the rules and tables (the
 * reference's CHECK does nothing).  See docs/sbr.md.
 */
#include <errno.h>
#include <limits.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <string.h>

#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/route.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/rule.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

#define FIRST_TABLE 100u
/* The netns lock is only held for a few netlink calls: waiting longer means something hangs. */
#define LOCK_TIMEOUT_MS 10000u

struct sbr_conf {
	int table;
	bool has_table;
	struct strv gateways;
	bool add_source_hints;
	/* Parsed: */
	struct ipaddr gw4, gw6;
	/* Indexes into prev_result->ips of the addresses on CNI_IFNAME. */
	size_t *ips;
	size_t n_ips;
};

static const struct cni_field sbr_fields[] = {
	{ .key = "table",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct sbr_conf, table),
	  .present = offsetof(struct sbr_conf, has_table),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 1,
	  .max = INT_MAX },
	{ .key = "gateways",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct sbr_conf, gateways),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "addSourceHints",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct sbr_conf, add_source_hints),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void sbr_conf_free(struct sbr_conf *c)
{
	cni_fields_free(sbr_fields, c);
	free(c->ips);
}

static int parse_gateways(struct sbr_conf *c, struct cni_error **err)
{
	if (c->gateways.n > 2)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "gateways list cannot contain more than 2 entries "
				     "(one IPv4, one IPv6)");
	for (size_t i = 0; i < c->gateways.n; i++) {
		const char *s = c->gateways.v[i];
		struct ipaddr a, *slot;

		if (ipaddr_parse(s, &a) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "invalid static gateway IP address: %s", s);
		slot = a.family == AF_INET ? &c->gw4 : &c->gw6;
		if (ipaddr_is_set(slot))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "gateways list contains multiple %s addresses: %s",
					     a.family == AF_INET ? "IPv4" : "IPv6", s);
		*slot = a;
	}
	return 0;
}

/*
 * The prevResult addresses of CNI_IFNAME, as the reference picks them: an
 * address naming no interface (or an index out of range) counts too.
 */
static void pick_ips(const struct cni_cmd *cmd, struct sbr_conf *c)
{
	const struct cni_result *p = cmd->conf->prev_result;

	c->ips = xmalloc((p->n_ips + 1) * sizeof(*c->ips));
	for (size_t i = 0; i < p->n_ips; i++) {
		int k = p->ips[i].interface;

		if (k >= 0 && (size_t)k < p->n_ifaces &&
		    (!p->ifaces[k].name || strcmp(p->ifaces[k].name, cmd->ifname) != 0))
			continue;
		c->ips[c->n_ips++] = i;
	}
}

static int load_conf(const struct cni_cmd *cmd, struct sbr_conf *c, bool need_prev,
		     struct cni_error **err)
{
	if (cni_json_decode(cni_netconf_root(cmd->conf), sbr_fields, c, "", err) < 0 ||
	    parse_gateways(c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result) {
		if (need_prev)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "This plugin must be called as chained plugin");
		return 0;
	}
	if (need_prev && cmd->conf->prev_result->n_ips == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "No IP addresses supplied on interface: %s", cmd->ifname);
	pick_ips(cmd, c);
	return 0;
}

static void host_prefix(const struct ipaddr *a, struct ipnet *ret)
{
	ret->addr = *a;
	ret->prefix = (uint8_t)ipaddr_family_bits(a->family);
}

static bool table_used(const struct cnl_rules *rules, const struct cnl_route_list *routes, uint32_t t)
{
	for (size_t i = 0; i < rules->n; i++)
		if (rules->v[i].table == t)
			return true;
	for (size_t i = 0; i < routes->n; i++)
		if (routes->v[i].table == t)
			return true;
	return false;
}

/* What an ADD did, for its rollback. */
struct undo {
	struct cnl_rule *rules;
	size_t n_rules;
	uint32_t *tables;
	size_t n_tables;
	int ifindex;
	struct cnl_route *hints; /* addSourceHints routes added to main */
	size_t n_hints;
	bool main_touched; /* routes left the main table: put them back */
};

static void undo_free(struct undo *u)
{
	free(u->rules);
	free(u->tables);
	free(u->hints);
}

static int add_rule(struct netns *ns, struct undo *u, const struct ipaddr *ip, uint32_t table,
		    struct cni_error **err)
{
	struct cnl_rule r = { .family = ip->family, .table = table, .action = FR_ACT_TO_TBL };

	host_prefix(ip, &r.src);
	if (cnl_rule_add(ns, &r, err) < 0)
		return -1;
	u->rules = xrealloc(u->rules, (u->n_rules + 1) * sizeof(*u->rules));
	u->rules[u->n_rules++] = r;
	return 0;
}

/* Delete every route of table that leaves through ifindex. */
static int flush_table(struct netns *ns, uint32_t table, int ifindex, struct cni_error **err)
{
	struct cnl_route_list l = { 0 };
	int r = 0;

	if (cnl_route_list(ns, AF_UNSPEC, table, ifindex, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		if (cnl_route_del(ns, NULL, &l.v[i], err) < 0)
			r = -1;
	cnl_route_list_free(&l);
	return r;
}

static void rollback(struct netns *ns, struct undo *u, const struct cnl_route_list *main_routes)
{
	for (size_t i = u->n_rules; i-- > 0;)
		(void)cnl_rule_del(ns, &u->rules[i], NULL);
	for (size_t i = 0; i < u->n_tables; i++)
		(void)flush_table(ns, u->tables[i], u->ifindex, NULL);
	for (size_t i = 0; i < u->n_hints; i++)
		(void)cnl_route_del(ns, NULL, &u->hints[i], NULL);
	/* Device routes first: a gateway must be reachable again before its routes return. */
	for (int pass = 0; u->main_touched && pass < 2; pass++)
		for (size_t i = 0; i < main_routes->n; i++)
			if (ipaddr_is_set(&main_routes->v[i].gw) == (pass == 1))
				(void)cnl_route_add(ns, NULL, &main_routes->v[i], CNL_ROUTE_REPLACE,
						    NULL);
}

static bool route_belongs(const struct cnl_route *rt, const struct ipnet *addr)
{
	return ipnet_contains(addr, &rt->src) || ipnet_contains(addr, &rt->gw) ||
	       (!ipaddr_is_set(&rt->src) && !ipaddr_is_set(&rt->gw));
}

static int do_routes(struct netns *ns, const struct cni_cmd *cmd, const struct sbr_conf *c,
		     struct undo *u, struct cnl_route_list *own, struct cni_error **err)
{
	const struct cni_result *p = cmd->conf->prev_result;
	struct cnl_rules rules = { 0 };
	struct cnl_route_list all = { 0 };
	struct cnl_link link;
	uint32_t table = FIRST_TABLE;
	int ret = -1;

	if (cnl_link_get(ns, cmd->ifname, &link, err) < 0)
		return cni_error_wrap(err, "Cannot find network interface %s", cmd->ifname);
	u->ifindex = link.ifindex;
	/*
	 * Every table a rule or any route names is taken (the reference looks
	 * at the main table's routes only, which never name a table >= 100).
	 */
	if (cnl_rule_list(ns, AF_UNSPEC, &rules, err) < 0 ||
	    cnl_route_list(ns, AF_UNSPEC, 0, 0, &all, err) < 0)
		goto out;
	/* The interface's main routes are in that dump already: no second one. */
	cnl_route_list_select(&all, RT_TABLE_MAIN, link.ifindex, own);

	for (size_t k = 0; k < c->n_ips; k++) {
		const struct cni_ip *ip = &p->ips[c->ips[k]];
		const struct ipaddr *gw = NULL;
		bool v4 = ip->address.addr.family == AF_INET;

		while (table_used(&rules, &all, table))
			table++;
		if (add_rule(ns, u, &ip->address.addr, table, err) < 0)
			goto out;
		u->tables = xrealloc(u->tables, (u->n_tables + 1) * sizeof(*u->tables));
		u->tables[u->n_tables++] = table;

		if (v4 && ipaddr_is_set(&c->gw4))
			gw = &c->gw4;
		else if (!v4 && ipaddr_is_set(&c->gw6))
			gw = &c->gw6;
		else if (ipaddr_is_set(&ip->gateway))
			gw = &ip->gateway;
		if (gw) {
			struct cnl_route d = { .gw = *gw, .ifindex = link.ifindex, .table = table };

			d.dst.addr.family = ip->address.addr.family;
			if (cnl_route_add(ns, &link, &d, CNL_ROUTE_EXCL, err) < 0) {
				char g[IPADDR_STRLEN];

				cni_error_wrap(err, "Failed to add default route to %s",
					       ipaddr_fmt(gw, g));
				goto out;
			}
		}
		for (size_t i = 0; i < own->n; i++) {
			struct cnl_route rt = own->v[i];

			/*
			 * The default route just added wins over main's (the
			 * reference replaces it with main's, losing "gateways").
			 */
			if (!route_belongs(&rt, &ip->address) || (gw && rt.dst.prefix == 0))
				continue;
			rt.table = table;
			if (cnl_route_add(ns, &link, &rt, CNL_ROUTE_REPLACE, err) < 0) {
				cni_error_wrap(err, "Failed to readd route");
				goto out;
			}
		}
		/* Taken now, so the next address does not get it. */
		table++;
	}

	u->main_touched = true;
	if (c->add_source_hints) {
		/* Only the subnet routes stay in main, with the address as source hint. */
		for (size_t k = 0; k < c->n_ips; k++) {
			const struct cni_ip *ip = &p->ips[c->ips[k]];
			struct cnl_route h = { .src = ip->address.addr,
					       .ifindex = link.ifindex,
					       .table = RT_TABLE_MAIN,
					       .has_scope = true,
					       .scope = RT_SCOPE_LINK };

			ipnet_canonical(&ip->address, &h.dst);
			/*
			 * What the kernel gives an IPv6 route without a metric,
			 * spelled out so the rollback deletes this route and not
			 * the kernel's prefix route (metric 256) next to it.
			 */
			if (h.dst.addr.family == AF_INET6)
				h.priority = 1024;
			u->hints = xrealloc(u->hints, (u->n_hints + 1) * sizeof(*u->hints));
			u->hints[u->n_hints] = h;
			/* IPv6 routes are all scope universe: match any scope when deleting. */
			u->hints[u->n_hints++].has_scope = false;
			if (cnl_route_add(ns, &link, &h, CNL_ROUTE_REPLACE, err) < 0)
				goto out;
		}
		for (size_t i = 0; i < own->n; i++)
			if (own->v[i].scope != RT_SCOPE_LINK &&
			    cnl_route_del(ns, &link, &own->v[i], err) < 0)
				goto out;
	} else {
		for (size_t i = 0; i < own->n; i++)
			if (cnl_route_del(ns, &link, &own->v[i], err) < 0)
				goto out;
	}
	ret = 0;
out:
	cnl_rules_free(&rules);
	cnl_route_list_free(&all);
	return ret;
}

static int lock_netns(const struct cni_cmd *cmd, struct cni_error **err)
{
	/* The reference's sbr flocks the netns file: taking the same lock keeps both in step. */
	return cnl_flock_timed(cmd->netns_fd, cmd->netns, LOCK_TIMEOUT_MS, err);
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(sbr_conf_free))) struct sbr_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct cnl_route_list own = { 0 };
	struct undo u = { 0 };
	int r = 0;

	if (load_conf(cmd, &c, true, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0 || lock_netns(cmd, err) < 0)
		return -1;
	if (c.has_table) {
		const struct cni_result *p = cmd->conf->prev_result;

		for (size_t k = 0; k < c.n_ips && r == 0; k++)
			r = add_rule(ns, &u, &p->ips[c.ips[k]].address.addr, (uint32_t)c.table, err);
	} else {
		r = do_routes(ns, cmd, &c, &u, &own, err);
	}
	if (r < 0)
		rollback(ns, &u, &own);
	cnl_route_list_free(&own);
	undo_free(&u);
	if (r < 0)
		return -1;
	*ret = cni_result_dup(cmd->conf->prev_result);
	return 0;
}

/* The addresses whose rules DEL removes: those on the link and those of prevResult. */
struct addr_set {
	struct ipaddr *v;
	size_t n;
};

static bool addr_in(const struct ipaddr *a, const struct addr_set *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (ipaddr_eq(a, &v->v[i]))
			return true;
	return false;
}

static void view_add(struct addr_set *v, const struct ipaddr *a)
{
	if (addr_in(a, v))
		return;
	v->v = xrealloc(v->v, (v->n + 1) * sizeof(*v->v));
	v->v[v->n++] = *a;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(sbr_conf_free))) struct sbr_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct addr_set want = { 0 };
	struct cnl_rules rules = { 0 };
	struct cnl_addrs addrs = { 0 };
	struct cni_error *e = NULL;
	struct cnl_link link = { 0 };
	bool have_link = false;
	int r = 0;

	/* Nothing to undo without the netns: the rules and tables went with it. */
	if (cmd->netns_fd < 0)
		return 0;
	/* A config ADD refused (bad gateways) still gets its DEL: those keys are not needed here. */
	if (cni_json_decode(cni_netconf_root(cmd->conf), sbr_fields, &c, "", &e) < 0)
		cni_error_free(TAKE_PTR(e));
	if (cmd->conf->prev_result)
		pick_ips(cmd, &c);
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0 || lock_netns(cmd, err) < 0)
		return -1;

	if (cnl_link_get(ns, cmd->ifname, &link, &e) == 0) {
		have_link = true;
		if (cnl_addr_list(ns, link.ifindex, AF_UNSPEC, &addrs, err) < 0)
			r = -1;
		for (size_t i = 0; i < addrs.n; i++)
			view_add(&want, &addrs.v[i].addr.addr);
	} else if (cnl_not_found(e)) {
		cni_error_free(TAKE_PTR(e));
	} else {
		cni_error_move(err, &e);
		r = -1;
	}
	/* Unlike the reference, the prevResult's addresses count even with the link gone. */
	for (size_t k = 0; k < c.n_ips; k++)
		view_add(&want, &cmd->conf->prev_result->ips[c.ips[k]].address.addr);

	if (want.n && cnl_rule_list(ns, AF_UNSPEC, &rules, err) == 0) {
		for (size_t i = 0; i < rules.n; i++) {
			const struct cnl_rule *ru = &rules.v[i];
			bool shared = false;

			if (!ipaddr_is_set(&ru->src.addr) || !addr_in(&ru->src.addr, &want) ||
			    (c.has_table && ru->table != (uint32_t)c.table))
				continue;
			if (cnl_rule_del(ns, ru, err) < 0) {
				r = -1;
				continue;
			}
			/*
			 * A table of our own (no "table" key) goes with its rule,
			 * unless another rule still looks it up.
			 */
			for (size_t j = 0; j < rules.n; j++)
				if (j != i && rules.v[j].table == ru->table &&
				    !(ipaddr_is_set(&rules.v[j].src.addr) &&
				      addr_in(&rules.v[j].src.addr, &want)))
					shared = true;
			if (!c.has_table && have_link && !shared && ru->table >= FIRST_TABLE &&
			    flush_table(ns, ru->table, link.ifindex, err) < 0)
				r = -1;
		}
	} else if (want.n) {
		r = -1;
	}
	free(want.v);
	cnl_rules_free(&rules);
	cnl_addrs_free(&addrs);
	return r;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(sbr_conf_free))) struct sbr_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	const struct cni_result *p;
	struct cnl_rules rules = { 0 };
	struct cnl_link link;
	int r = -1;

	if (load_conf(cmd, &c, true, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0 ||
	    cnl_link_get(ns, cmd->ifname, &link, err) < 0 ||
	    cnl_rule_list(ns, AF_UNSPEC, &rules, err) < 0)
		return -1;
	p = cmd->conf->prev_result;
	for (size_t k = 0; k < c.n_ips; k++) {
		const struct cni_ip *ip = &p->ips[c.ips[k]];
		const struct cnl_rule *found = NULL;
		char a[IPADDR_STRLEN];
		struct ipnet want;

		host_prefix(&ip->address.addr, &want);
		for (size_t i = 0; i < rules.n && !found; i++)
			if (rules.v[i].src.prefix == want.prefix &&
			    ipaddr_eq(&rules.v[i].src.addr, &want.addr) &&
			    rules.v[i].action == FR_ACT_TO_TBL &&
			    (!c.has_table || rules.v[i].table == (uint32_t)c.table))
				found = &rules.v[i];
		ipaddr_fmt(&ip->address.addr, a);
		if (!found) {
			if (c.has_table)
				cni_error_set(err, CNI_ERR_INTERNAL, 0,
					      "sbr: no rule from %s lookup table %d", a, c.table);
			else
				cni_error_set(err, CNI_ERR_INTERNAL, 0, "sbr: no rule from %s", a);
			goto out;
		}
		if (!c.has_table) {
			struct cnl_route_list l = { 0 };
			const struct ipaddr *gw = NULL;
			bool v4 = ip->address.addr.family == AF_INET, ok = false;

			if (v4 && ipaddr_is_set(&c.gw4))
				gw = &c.gw4;
			else if (!v4 && ipaddr_is_set(&c.gw6))
				gw = &c.gw6;
			else if (ipaddr_is_set(&ip->gateway))
				gw = &ip->gateway;
			/* Without a gateway the table may rightly be empty (nothing to copy, nothing to ask). */
			ok = !gw;
			if (!ok && cnl_route_list(ns, ip->address.addr.family, found->table,
						  link.ifindex, &l, err) < 0)
				goto out;
			for (size_t i = 0; i < l.n && !ok; i++)
				ok = l.v[i].dst.prefix == 0 && ipaddr_eq(&l.v[i].gw, gw);
			cnl_route_list_free(&l);
			if (!ok) {
				char g[IPADDR_STRLEN];

				ipaddr_fmt(gw, g);
				cni_error_set(err, CNI_ERR_INTERNAL, 0,
					      "sbr: table %u of %s has no default route via %s",
					      found->table, a, g);
				goto out;
			}
		}
	}
	r = 0;
out:
	cnl_rules_free(&rules);
	return r;
}

static const struct cni_plugin plugin = {
	.name = "sbr",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
