/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Results: one version-neutral struct, printed in any version's schema and
 * parsed from any version's schema, as the reference's libcni converts them
 * (golden results per version in test/fixtures/types/).
 */
#include <limits.h>
#include <string.h>

#include "types_internal.h"

static const char *const version_strs[CNI_V_COUNT] = {
	[CNI_V010] = "0.1.0", [CNI_V020] = "0.2.0", [CNI_V030] = "0.3.0", [CNI_V031] = "0.3.1",
	[CNI_V040] = "0.4.0", [CNI_V100] = "1.0.0", [CNI_V110] = "1.1.0",
};

int cni_version_parse(const char *s, enum cni_version *ret)
{
	if (!s)
		return -1;
	if (!*s) {
		*ret = CNI_V010; /* what the spec's first version wrote: nothing */
		return 0;
	}
	for (int v = 0; v < CNI_V_COUNT; v++) {
		if (strcmp(s, version_strs[v]) == 0) {
			*ret = (enum cni_version)v;
			return 0;
		}
	}
	return -1;
}

const char *cni_version_str(enum cni_version v)
{
	if ((unsigned int)v >= CNI_V_COUNT)
		return "";
	return version_strs[v];
}

/* ---- building, copying, freeing --------------------------------------- */

struct cni_result *cni_result_new(void)
{
	struct cni_result *r = xcalloc(1, sizeof(*r));

	r->version = CNI_VERSION_LATEST;
	return r;
}

void cni_dns_free(struct cni_dns *d)
{
	strv_free(&d->nameservers);
	free(d->domain);
	d->domain = NULL;
	strv_free(&d->search);
	strv_free(&d->options);
	d->lists_given = false;
}

void cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src)
{
	struct cni_dns out = { 0 };

	if (dst == src)
		return;
	strv_copy(&out.nameservers, &src->nameservers);
	out.domain = xstrdup(src->domain);
	strv_copy(&out.search, &src->search);
	strv_copy(&out.options, &src->options);
	cni_dns_free(dst);
	*dst = out;
}

bool cni_dns_is_set(const struct cni_dns *d)
{
	return d->lists_given || !cni_dns_is_empty(d);
}

bool cni_dns_is_empty(const struct cni_dns *d)
{
	return d->nameservers.n == 0 && (!d->domain || !*d->domain) && d->search.n == 0 &&
	       d->options.n == 0;
}

void cni_routes_free(struct cni_routes *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

void cni_routes_copy(struct cni_routes *dst, const struct cni_routes *src)
{
	struct cni_routes out = { 0 };

	if (dst == src)
		return;
	for (size_t i = 0; i < src->n; i++)
		*(struct cni_route *)xappend(&out.v, &out.n, sizeof(struct cni_route)) = src->v[i];
	cni_routes_free(dst);
	*dst = out;
}

static void iface_free(struct cni_iface *i)
{
	free(i->name);
	free(i->mac);
	free(i->sandbox);
	free(i->socket_path);
	free(i->pci_id);
}

void cni_result_free(struct cni_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_ifaces; i++)
		iface_free(&r->ifaces[i]);
	free(r->ifaces);
	free(r->ips);
	cni_routes_free(&r->routes);
	cni_dns_free(&r->dns);
	free(r);
}

void cni_result_freep(struct cni_result **r)
{
	cni_result_free(*r);
	*r = NULL;
}

int cni_result_add_iface(struct cni_result *r, const char *name, const char *mac, const char *sandbox)
{
	struct cni_iface *i = xappend(&r->ifaces, &r->n_ifaces, sizeof(*i));

	i->name = xstrdup(name);
	i->mac = xstrdup(mac);
	i->sandbox = xstrdup(sandbox);
	return (int)(r->n_ifaces - 1);
}

struct cni_ip *cni_result_add_ip(struct cni_result *r)
{
	struct cni_ip *ip = xappend(&r->ips, &r->n_ips, sizeof(*ip));

	ip->interface = -1;
	return ip;
}

struct cni_route *cni_result_add_route(struct cni_result *r)
{
	return xappend(&r->routes.v, &r->routes.n, sizeof(struct cni_route));
}

struct cni_result *cni_result_dup(const struct cni_result *r)
{
	struct cni_result *d;

	if (!r)
		return NULL;
	d = cni_result_new();
	d->version = r->version;
	for (size_t i = 0; i < r->n_ifaces; i++) {
		const struct cni_iface *s = &r->ifaces[i];
		int idx = cni_result_add_iface(d, s->name, s->mac, s->sandbox);
		struct cni_iface *t = &d->ifaces[idx];

		t->mtu = s->mtu;
		t->socket_path = xstrdup(s->socket_path);
		t->pci_id = xstrdup(s->pci_id);
	}
	for (size_t i = 0; i < r->n_ips; i++)
		*cni_result_add_ip(d) = r->ips[i];
	cni_routes_copy(&d->routes, &r->routes);
	cni_dns_copy(&d->dns, &r->dns);
	return d;
}

/* ---- printing --------------------------------------------------------- */

static void put_str_opt(struct jw *w, const char *key, const char *s)
{
	if (s && *s) {
		jw_key(w, key);
		jw_str(w, s);
	}
}

static void put_strv_opt(struct jw *w, const char *key, const struct strv *v)
{
	if (v->n == 0)
		return;
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < v->n; i++) {
		jw_elem(w);
		jw_str(w, v->v[i]);
	}
	jw_arr_end(w);
}

static void put_int_opt(struct jw *w, const char *key, int v)
{
	if (v != 0) {
		jw_key(w, key);
		jw_int(w, v);
	}
}

/* For keys whose zero is a value (interface index 0, table 0, scope 0). */
static void put_int_if(struct jw *w, const char *key, bool has, int v)
{
	if (has) {
		jw_key(w, key);
		jw_int(w, v);
	}
}

static void put_ip(struct jw *w, const char *key, const struct ipaddr *a)
{
	char buf[IPADDR_STRLEN];

	if (!ipaddr_is_set(a))
		return;
	jw_key(w, key);
	jw_str(w, ipaddr_fmt(a, buf));
}

static void put_net(struct jw *w, const char *key, const struct ipnet *n)
{
	char buf[IPNET_STRLEN];

	jw_key(w, key);
	jw_str(w, ipnet_fmt(n, buf));
}

/* DNS in Go's types.DNS order; every key omitempty. */
static void put_dns(struct jw *w, const struct cni_dns *d)
{
	jw_key(w, "dns");
	jw_obj_begin(w);
	put_strv_opt(w, "nameservers", &d->nameservers);
	put_str_opt(w, "domain", d->domain);
	put_strv_opt(w, "search", &d->search);
	put_strv_opt(w, "options", &d->options);
	jw_obj_end(w);
}

/*
 * Go's types.Route is shared by every result version from 0.3.0 on, so the
 * 1.1.0 route keys (mtu, advmss, priority, table, scope) appear in 0.3/0.4
 * and 1.0.0 output too when set; we do the same.  Dropping them would lose
 * information a chained plugin passes through in prevResult (and a 0.4.0
 * consumer ignores unknown keys), and matching the reference keeps the
 * output byte-identical.  0.1/0.2 routes carry only dst and gw: the
 * reference's down-conversion builds them from those two alone.
 */
enum layout {
	LAYOUT_02, /* struct order, routes dst+gw only */
	LAYOUT_04, /* struct order */
	LAYOUT_1X, /* keys sorted (see print_1x) */
};

static void put_route(struct jw *w, const struct cni_route *rt, enum layout l)
{
	/* As the config wrote it when it came from one (the reference echoes it). */
	const struct ipnet *dst = rt->dst_given.addr.family ? &rt->dst_given : &rt->dst;

	jw_elem(w);
	jw_obj_begin(w);
	if (l == LAYOUT_1X) {
		put_int_opt(w, "advmss", rt->advmss);
		put_net(w, "dst", dst);
		put_ip(w, "gw", &rt->gw);
		put_int_opt(w, "mtu", rt->mtu);
		put_int_opt(w, "priority", rt->priority);
		put_int_if(w, "scope", rt->has_scope, rt->scope);
		put_int_if(w, "table", rt->has_table, rt->table);
	} else {
		put_net(w, "dst", dst);
		put_ip(w, "gw", &rt->gw);
		if (l == LAYOUT_04) {
			put_int_opt(w, "mtu", rt->mtu);
			put_int_opt(w, "advmss", rt->advmss);
			put_int_opt(w, "priority", rt->priority);
			put_int_if(w, "table", rt->has_table, rt->table);
			put_int_if(w, "scope", rt->has_scope, rt->scope);
		}
	}
	jw_obj_end(w);
}

static void put_routes(struct jw *w, const struct cni_routes *routes, enum layout l)
{
	if (!routes->n)
		return;
	jw_key(w, "routes");
	jw_arr_begin(w);
	for (size_t i = 0; i < routes->n; i++)
		put_route(w, &routes->v[i], l);
	jw_arr_end(w);
}

/* 0.3/0.4 interfaces lack the 1.1 keys; 1.x sorts its keys (see print_1x). */
static void put_iface(struct jw *w, const struct cni_iface *iface, enum layout l)
{
	jw_elem(w);
	jw_obj_begin(w);
	if (l == LAYOUT_1X) {
		put_str_opt(w, "mac", iface->mac);
		put_int_opt(w, "mtu", iface->mtu);
		jw_key(w, "name");
		jw_str(w, iface->name);
		put_str_opt(w, "pciID", iface->pci_id);
		put_str_opt(w, "sandbox", iface->sandbox);
		put_str_opt(w, "socketPath", iface->socket_path);
	} else {
		jw_key(w, "name");
		jw_str(w, iface->name);
		put_str_opt(w, "mac", iface->mac);
		put_str_opt(w, "sandbox", iface->sandbox);
	}
	jw_obj_end(w);
}

/* 0.3/0.4 lead with "version", which 1.x dropped. */
static void put_ipconf(struct jw *w, const struct cni_ip *ip, enum layout l)
{
	jw_elem(w);
	jw_obj_begin(w);
	if (l == LAYOUT_1X) {
		put_net(w, "address", &ip->address);
		put_ip(w, "gateway", &ip->gateway);
		put_int_if(w, "interface", ip->interface >= 0, ip->interface);
	} else {
		jw_key(w, "version");
		jw_str(w, ip->address.addr.family == AF_INET ? "4" : "6");
		put_int_if(w, "interface", ip->interface >= 0, ip->interface);
		put_net(w, "address", &ip->address);
		put_ip(w, "gateway", &ip->gateway);
	}
	jw_obj_end(w);
}

static void put_ifaces_ips(struct jw *w, const struct cni_result *r, enum layout l)
{
	if (r->n_ifaces) {
		jw_key(w, "interfaces");
		jw_arr_begin(w);
		for (size_t i = 0; i < r->n_ifaces; i++)
			put_iface(w, &r->ifaces[i], l);
		jw_arr_end(w);
	}
	if (r->n_ips) {
		jw_key(w, "ips");
		jw_arr_begin(w);
		for (size_t i = 0; i < r->n_ips; i++)
			put_ipconf(w, &r->ips[i], l);
		jw_arr_end(w);
	}
}

static const struct cni_ip *first_ip(const struct cni_result *r, sa_family_t family)
{
	for (size_t i = 0; i < r->n_ips; i++) {
		if (r->ips[i].address.addr.family == family)
			return &r->ips[i];
	}
	return NULL;
}

static void put_ip02(struct jw *w, const char *key, const struct cni_result *r,
		     const struct cni_ip *ip)
{
	sa_family_t family = ip->address.addr.family;
	bool any = false;

	jw_key(w, key);
	jw_obj_begin(w);
	put_net(w, "ip", &ip->address);
	put_ip(w, "gateway", &ip->gateway);
	for (size_t i = 0; i < r->routes.n; i++) {
		if (r->routes.v[i].dst.addr.family != family)
			continue;
		if (!any) {
			jw_key(w, "routes");
			jw_arr_begin(w);
			any = true;
		}
		put_route(w, &r->routes.v[i], LAYOUT_02);
	}
	if (any)
		jw_arr_end(w);
	jw_obj_end(w);
}

static int print_02(struct jw *w, const struct cni_result *r, enum cni_version v,
		    struct cni_error **err)
{
	const struct cni_ip *ip4 = first_ip(r, AF_INET), *ip6 = first_ip(r, AF_INET6);

	if (!ip4 && !ip6)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "cannot convert: no valid IP addresses");
	/*
	 * The reference silently keeps only the first address of each family;
	 * we refuse instead of reporting a partial configuration as success.
	 */
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];

		if (ip != ip4 && ip != ip6)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "cannot convert: CNI version %s does not support more "
					     "than 1 address per family",
					     cni_version_str(v));
	}
	/*
	 * Routes of a family without an address are dropped, as the reference
	 * does: 0.2 has nowhere to put them.
	 */
	jw_key(w, "cniVersion");
	jw_str(w, cni_version_str(v));
	if (ip4)
		put_ip02(w, "ip4", r, ip4);
	if (ip6)
		put_ip02(w, "ip6", r, ip6);
	put_dns(w, &r->dns);
	return 0;
}

/* 0.3.0, 0.3.1, 0.4.0: Go's struct order; interfaces have no 1.1 keys in this type. */
static void print_04(struct jw *w, const struct cni_result *r, enum cni_version v)
{
	jw_key(w, "cniVersion");
	jw_str(w, cni_version_str(v));
	put_ifaces_ips(w, r, LAYOUT_04);
	put_routes(w, &r->routes, LAYOUT_04);
	put_dns(w, &r->dns);
}

/*
 * 1.0.0 and 1.1.0 (one type in the reference, so the 1.1 keys print for
 * both).  The reference (libcni >= 1.2) drops an empty "dns" by
 * re-marshalling the result through a map[string]interface{}, which sorts
 * every key alphabetically and turns invalid UTF-8 into a literal U+FFFD;
 * we write the same bytes.
 */
static void print_1x(struct jw *w, const struct cni_result *r, enum cni_version v)
{
	jw_key(w, "cniVersion");
	jw_str(w, cni_version_str(v));
	if (!cni_dns_is_empty(&r->dns)) {
		jw_key(w, "dns");
		jw_obj_begin(w);
		put_str_opt(w, "domain", r->dns.domain);
		put_strv_opt(w, "nameservers", &r->dns.nameservers);
		put_strv_opt(w, "options", &r->dns.options);
		put_strv_opt(w, "search", &r->dns.search);
		jw_obj_end(w);
	}
	put_ifaces_ips(w, r, LAYOUT_1X);
	put_routes(w, &r->routes, LAYOUT_1X);
}

/* What a plugin built must be printable: catch builder bugs before the runtime sees them. */
static int result_check(const struct cni_result *r, struct cni_error **err)
{
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];

		if (!ipaddr_is_set(&ip->address.addr))
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "result: ips[%zu] has no address", i);
		if (ip->interface >= 0 && (size_t)ip->interface >= r->n_ifaces)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "result: ips[%zu].interface %d out of range", i,
					     ip->interface);
	}
	for (size_t i = 0; i < r->routes.n; i++) {
		if (!ipaddr_is_set(&r->routes.v[i].dst.addr))
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "result: routes[%zu] has no destination", i);
	}
	return 0;
}

int cni_result_print(const struct cni_result *r, enum cni_version v, char **ret_json,
		     struct cni_error **err)
{
	struct jw w = { 0 };

	if ((unsigned int)v >= CNI_V_COUNT)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "cannot print a result for version %d", (int)v);
	if (result_check(r, err) < 0)
		return -1;
	jw_obj_begin(&w);
	if (v <= CNI_V020) {
		if (print_02(&w, r, v, err) < 0) {
			jw_free(&w);
			return -1;
		}
	} else if (v <= CNI_V040) {
		print_04(&w, r, v);
	} else {
		w.raw_replacement_char = true;
		print_1x(&w, r, v);
	}
	jw_obj_end(&w);
	*ret_json = jw_take(&w);
	return 0;
}

/* ---- parsing ---------------------------------------------------------- */

struct ip_json {
	struct cni_ip ip;
	char *version;
};

static const struct cni_field ip_fields[] = {
	{ .key = "version",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct ip_json, version),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "interface",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct ip_json, ip.interface),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = -1,
	  .max = INT_MAX },
	{ .key = "address",
	  .kind = CNI_FIELD_IPNET,
	  .offset = offsetof(struct ip_json, ip.address),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "gateway",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct ip_json, ip.gateway),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

/* Lenient about version: 1.x keys in an older result are kept, not refused. */
static const struct cni_field iface_fields[] = {
	{ .key = "name",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_iface, name),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mac",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_iface, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_iface, mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "sandbox",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_iface, sandbox),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "socketPath",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_iface, socket_path),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "pciID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_iface, pci_id),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

struct ip02_json {
	struct ipnet ip;
	struct ipaddr gateway;
	struct cni_routes routes;
};

static const struct cni_field ip02_fields[] = {
	{ .key = "ip",
	  .kind = CNI_FIELD_IPNET,
	  .offset = offsetof(struct ip02_json, ip),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "gateway",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct ip02_json, gateway),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "routes",
	  .kind = CNI_FIELD_ROUTES,
	  .offset = offsetof(struct ip02_json, routes),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const struct cni_field dns_key[] = {
	{ .key = "dns",
	  .kind = CNI_FIELD_DNS,
	  .offset = offsetof(struct cni_result, dns),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const struct cni_field routes_key[] = {
	{ .key = "routes",
	  .kind = CNI_FIELD_ROUTES,
	  .offset = offsetof(struct cni_result, routes),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void routes_append(struct cni_routes *dst, const struct cni_routes *src)
{
	for (size_t i = 0; i < src->n; i++)
		*(struct cni_route *)xappend(&dst->v, &dst->n, sizeof(struct cni_route)) = src->v[i];
}

/* 0.1.0/0.2.0: "ip4" then "ip6", each with its routes, in that order (as Go's up-conversion). */
static int parse_02(struct json_object *o, struct cni_result *r, struct cni_error **err)
{
	static const char *const keys[] = { "ip4", "ip6" };
	static const sa_family_t families[] = { AF_INET, AF_INET6 };

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		struct ip02_json ipj = { 0 };
		struct json_object *v;
		struct cni_ip *ip;

		if (!cnij_get(o, keys[k], &v) || !v)
			continue;
		if (!json_object_is_type(v, json_type_object))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: expected an object", keys[k]);
		if (cni_json_decode(cnij_wrap(v), ip02_fields, &ipj, keys[k], err) < 0)
			return -1;
		if (ipj.ip.addr.family != families[k]) {
			cni_routes_free(&ipj.routes);
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s.ip: not an IPv%c address", keys[k],
					     k == 0 ? '4' : '6');
		}
		ip = cni_result_add_ip(r);
		ip->address = ipj.ip;
		ip->gateway = ipj.gateway;
		routes_append(&r->routes, &ipj.routes);
		cni_routes_free(&ipj.routes);
	}
	return 0;
}

static int parse_03plus(struct json_object *o, struct cni_result *r, struct cni_error **err)
{
	struct json_object *ifaces = NULL, *ips = NULL;
	const char *ips_key = "ips";

	if (cnij_get(o, "interfaces", &ifaces) && ifaces) {
		size_t n;

		if (!json_object_is_type(ifaces, json_type_array))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "interfaces: expected an array");
		n = json_object_array_length(ifaces);
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *p = cni_json_path_index("interfaces", i);
			struct cni_iface *iface = xappend(&r->ifaces, &r->n_ifaces, sizeof(*iface));
			struct json_object *e = json_object_array_get_idx(ifaces, i);

			if (!e || !json_object_is_type(e, json_type_object))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: expected an object", p);
			if (cni_json_decode(cnij_wrap(e), iface_fields, iface, p, err) < 0)
				return -1;
		}
	}

	/* Spec 0.3.0's text called the list "ip" (0.3.1 fixed the typo); accept it there. */
	if ((!cnij_get(o, "ips", &ips) || !ips) && r->version == CNI_V030 &&
	    cnij_get(o, "ip", &ips) && ips && json_object_is_type(ips, json_type_array))
		ips_key = "ip";
	if (ips) {
		size_t n;

		if (!json_object_is_type(ips, json_type_array))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: expected an array", ips_key);
		n = json_object_array_length(ips);
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *p = cni_json_path_index(ips_key, i);
			struct json_object *e = json_object_array_get_idx(ips, i);
			struct ip_json ipj = { .ip.interface = -1 };
			sa_family_t family;

			if (!e || !json_object_is_type(e, json_type_object))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: expected an object", p);
			if (cni_json_decode(cnij_wrap(e), ip_fields, &ipj, p, err) < 0)
				return -1;
			family = ipj.ip.address.addr.family;
			if (ipj.version && *ipj.version &&
			    strcmp(ipj.version, family == AF_INET ? "4" : "6") != 0) {
				cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					      "%s.version: \"%s\" does not match address family", p,
					      ipj.version);
				free(ipj.version);
				return -1;
			}
			free(ipj.version);
			/* Consumers index interfaces with it: past the end is a broken result. */
			if (ipj.ip.interface >= 0 && (size_t)ipj.ip.interface >= r->n_ifaces)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s.interface: index %d out of range (%zu interfaces)",
						     p, ipj.ip.interface, r->n_ifaces);
			*cni_result_add_ip(r) = ipj.ip;
		}
	}
	return cni_json_decode(cnij_wrap(o), routes_key, r, "", err);
}

int cnij_result_from_object(struct json_object *o, enum cni_version default_version,
			    struct cni_result **ret, struct cni_error **err)
{
	cleanup_result struct cni_result *r = cni_result_new();
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object))
		return cni_error_set(err, CNI_ERR_DECODE, 0, "result: expected a JSON object");

	r->version = default_version;
	if (cnij_get_scalar(o, "cniVersion", &v) && v) {
		const char *s;

		if (!json_object_is_type(v, json_type_string))
			return cni_error_set(err, CNI_ERR_DECODE, 0, "cniVersion: expected a string");
		s = json_object_get_string(v);
		/* "" is what a plugin that never set it prints: the caller's version, as libcni. */
		if (*s && cni_version_parse(s, &r->version) < 0)
			return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0,
					     "unsupported CNI result version \"%s\"", s);
	}

	if (r->version <= CNI_V020) {
		if (parse_02(o, r, err) < 0)
			return -1;
	} else if (parse_03plus(o, r, err) < 0) {
		return -1;
	}
	if (cni_json_decode(cnij_wrap(o), dns_key, r, "", err) < 0)
		return -1;
	*ret = TAKE_PTR(r);
	return 0;
}

int cni_result_parse(const char *json, size_t len, enum cni_version default_version,
		     struct cni_result **ret, struct cni_error **err)
{
	struct json_object *o;
	int r;

	if (cnij_parse(json, len, "result", &o, err) < 0)
		return -1;
	r = cnij_result_from_object(o, default_version, ret, err);
	json_object_put(o);
	return r;
}
