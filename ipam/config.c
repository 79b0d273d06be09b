/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pkg/cleanup.h"
#include "config.h"
#include "../pkg/log.h"
#include "store.h"

/* ---- range sets (JSON: [[{range}, ...], ...]) ------------------------------ */

struct sets {
	struct ipam_range_set *v;
	size_t n;
};

static const struct cni_field range_fields[] = {
	{ .key = "subnet",
	  .kind = CNI_FIELD_IPNET,
	  .offset = offsetof(struct ipam_range, subnet),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "rangeStart",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct ipam_range, start),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "rangeEnd",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct ipam_range, end),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "gateway",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct ipam_range, gateway),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void sets_free(struct sets *s)
{
	for (size_t i = 0; i < s->n; i++)
		ipam_range_set_free(&s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void free_sets_field(void *dst)
{
	sets_free(dst);
}

/*
 * A JSON list of objects, each decoded by `fields` into an element appended
 * to *vec (n elements of size bytes), then vetted by check if given.  On
 * failure what was appended stays for the caller to free.
 */
static int decode_obj_list(const struct cni_json *v, const struct cni_field *fields, void *vec,
			   size_t *n, size_t size,
			   int (*check)(const void *e, const char *path, struct cni_error **err),
			   const char *path, const char *obj_what, struct cni_error **err)
{
	char p[256];

	for (size_t i = 0; i < cni_json_array_len(v); i++) {
		const struct cni_json *o = cni_json_array_get(v, i);
		void *e = xappend(vec, n, size);

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!cni_json_is_object(o))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected %s", p,
					     obj_what);
		if (cni_json_decode(o, fields, e, p, err) < 0)
			return -1;
		if (check && check(e, p, err) < 0)
			return -1;
	}
	return 0;
}

static int check_range(const void *e, const char *path, struct cni_error **err)
{
	const struct ipam_range *r = e;

	if (!ipaddr_is_set(&r->subnet.addr))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s.subnet: missing", path);
	return 0;
}

static int decode_sets(const struct cni_json *v, void *dst, const char *path, struct cni_error **err)
{
	struct sets *out = dst, s = { 0 };
	char p[256];

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: expected a list of range sets (lists of ranges)", path);
	for (size_t i = 0; i < cni_json_array_len(v); i++) {
		const struct cni_json *set = cni_json_array_get(v, i);
		struct ipam_range_set *rs = xappend(&s.v, &s.n, sizeof(*s.v));

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!cni_json_is_array(set)) {
			sets_free(&s);
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: expected a list of ranges", p);
		}
		if (decode_obj_list(set, range_fields, &rs->v, &rs->n, sizeof(*rs->v), check_range,
				    p, "a range object", err) < 0) {
			sets_free(&s);
			return -1;
		}
	}
	sets_free(out);
	*out = s;
	return 0;
}

/* ---- host-local ----------------------------------------------------------- */

struct hl_raw {
	struct ipam_range legacy;
	struct sets ranges;
	struct cni_routes routes;
	char *data_dir;
	char *resolv_conf;
	bool reclaim, has_reclaim;
};

static const struct cni_field hl_fields[] = {
	{ .key = "subnet",
	  .kind = CNI_FIELD_IPNET,
	  .offset = offsetof(struct hl_raw, legacy.subnet),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "rangeStart",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct hl_raw, legacy.start),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "rangeEnd",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct hl_raw, legacy.end),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "gateway",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct hl_raw, legacy.gateway),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "ranges",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct hl_raw, ranges),
	  .flags = CNI_FIELD_NULL_OK,
	  .decode = decode_sets,
	  .free = free_sets_field },
	{ .key = "routes",
	  .kind = CNI_FIELD_ROUTES,
	  .offset = offsetof(struct hl_raw, routes),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "dataDir",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hl_raw, data_dir),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "resolvConf",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct hl_raw, resolv_conf),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "reclaimAfterReboot",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct hl_raw, reclaim),
	  .present = offsetof(struct hl_raw, has_reclaim),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ 0 },
};

static const struct cni_field rc_fields[] = {
	{ .key = "ipRanges",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = 0,
	  .flags = CNI_FIELD_NULL_OK,
	  .decode = decode_sets,
	  .free = free_sets_field },
	{ 0 },
};

void ipam_hl_conf_free(struct ipam_hl_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sets; i++)
		ipam_range_set_free(&c->sets[i]);
	free(c->sets);
	cni_routes_free(&c->routes);
	free(c->data_dir);
	free(c->resolv_conf);
	free(c->req);
	free(c);
}

void ipam_hl_conf_freep(struct ipam_hl_conf **c)
{
	ipam_hl_conf_free(*c);
	*c = NULL;
}

static void push_set(struct ipam_hl_conf *c, struct ipam_range_set *s)
{
	*(struct ipam_range_set *)xappend(&c->sets, &c->n_sets, sizeof(*s)) = *s;
	s->v = NULL;
	s->n = 0;
}

static int push_requested(struct ipam_hl_conf *c, const char *what, const char *s,
			  struct cni_error **err)
{
	struct ipnet n;

	if (ipnet_parse_maybe_prefix(s, &n, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: invalid IP address \"%s\"", what, s);
	*(struct ipaddr *)xappend(&c->req, &c->n_req, sizeof(n.addr)) = n.addr;
	return 0;
}

static int load_requested(const struct cni_cmd *cmd, struct ipam_hl_conf *c, struct cni_error **err)
{
	const struct cni_netconf *conf = cmd->conf;
	const struct strv *list = NULL;
	const char *what = NULL, *env;

	if (conf->rc.ips.n) {
		list = &conf->rc.ips;
		what = "runtimeConfig.ips";
	} else if (conf->args_ips.n) {
		list = &conf->args_ips;
		what = "args.cni.ips";
	}
	if (list) {
		for (size_t i = 0; i < list->n; i++)
			if (push_requested(c, what, list->v[i], err) < 0)
				return -1;
		return 0;
	}
	env = cni_env_args_get(&cmd->args, "IP");
	if (env && *env)
		return push_requested(c, "CNI_ARGS IP", env, err);
	return 0;
}

static int validate_sets(const struct cni_netconf *conf, struct ipam_hl_conf *c,
			 struct cni_error **err)
{
	unsigned int v4 = 0, v6 = 0;

	if (c->n_sets == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "no IP ranges specified");
	for (size_t i = 0; i < c->n_sets; i++) {
		if (ipam_range_set_canonicalize(&c->sets[i], err) < 0)
			return cni_error_wrap(err, "invalid range set %zu", i);
		if (c->sets[i].v[0].start.family == AF_INET)
			v4++;
		else
			v6++;
	}
	if ((v4 > 1 || v6 > 1) && conf->version < CNI_V030)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "CNI version %s does not support more than 1 address per family",
				     conf->cni_version ? conf->cni_version : "");
	for (size_t i = 0; i + 1 < c->n_sets; i++)
		for (size_t j = i + 1; j < c->n_sets; j++)
			if (ipam_range_set_overlaps(&c->sets[i], &c->sets[j]))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "range set %zu overlaps with %zu", i, j);
	return 0;
}

/*
 * dataDir must be an absolute path: a relative one would resolve against
 * whatever directory the runtime happened to exec the plugin from (the
 * reference writes there), so two runtimes, or one after a restart, would
 * keep two sets of reservations for the same network.  A NUL in the JSON
 * string would silently cut the path short.
 */
static int check_data_dir(const struct cni_json *ipam, const char *dir, struct cni_error **err)
{
	const struct cni_json *v = cni_json_get(ipam, "dataDir");

	if (v && cni_json_is_string(v)) {
		cleanup_free char *ser = cni_json_serialize(v);

		if (ser && strstr(ser, "\\u0000"))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "ipam.dataDir: contains a NUL character");
	}
	if (dir && *dir && dir[0] != '/')
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam.dataDir \"%s\": must be an absolute path", dir);
	return 0;
}

int ipam_hl_conf_load(const struct cni_cmd *cmd, bool validate, struct ipam_hl_conf **ret,
		      struct cni_error **err)
{
	const struct cni_netconf *conf = cmd->conf;
	const struct cni_json *root = cni_netconf_root(conf), *ipam, *rc;
	cleanup_hl_conf struct ipam_hl_conf *c = NULL;
	struct hl_raw raw = { 0 };
	struct sets rcsets = { 0 };
	int r = -1;

	ipam = root ? cni_json_get(root, "ipam") : NULL;
	if (!ipam || cni_json_is_null(ipam))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "IPAM config missing 'ipam' key");
	if (!cni_json_is_object(ipam))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "ipam: expected an object");
	if (cni_json_decode(ipam, hl_fields, &raw, "ipam", err) < 0)
		return -1;
	rc = cni_json_get(root, "runtimeConfig");
	if (rc && cni_json_is_object(rc)) {
		cleanup_error struct cni_error *rc_err = NULL;

		if (cni_json_decode(rc, rc_fields, &rcsets, "runtimeConfig", &rc_err) < 0) {
			/* DEL and GC release by container: ranges they cannot read do not matter. */
			if (cmd->verb != CNI_VERB_DEL && cmd->verb != CNI_VERB_GC) {
				cni_error_move(err, &rc_err);
				goto out;
			}
			cni_log("ignoring runtimeConfig.ipRanges: %s", rc_err->msg);
			memset(&rcsets, 0, sizeof(rcsets));
		}
	}

	c = xcalloc(1, sizeof(*c));
	/* Order: runtimeConfig.ipRanges, the legacy single range, then ranges. */
	for (size_t i = 0; i < rcsets.n; i++)
		push_set(c, &rcsets.v[i]);
	if (ipaddr_is_set(&raw.legacy.subnet.addr)) {
		struct ipam_range_set legacy = { .v = xmalloc(sizeof(raw.legacy)), .n = 1 };

		legacy.v[0] = raw.legacy;
		push_set(c, &legacy);
	}
	for (size_t i = 0; i < raw.ranges.n; i++)
		push_set(c, &raw.ranges.v[i]);
	c->routes = raw.routes;
	memset(&raw.routes, 0, sizeof(raw.routes));
	if (check_data_dir(ipam, raw.data_dir, err) < 0)
		goto out;
	c->data_dir = xstrdup(raw.data_dir && *raw.data_dir ? raw.data_dir : IPAM_DEFAULT_DATA_DIR);
	c->resolv_conf = raw.resolv_conf && *raw.resolv_conf ? TAKE_PTR(raw.resolv_conf) : NULL;
	c->reclaim = !raw.has_reclaim || raw.reclaim;

	if (validate && (validate_sets(conf, c, err) < 0 || load_requested(cmd, c, err) < 0))
		goto out;
	*ret = TAKE_PTR(c);
	r = 0;
out:
	cni_fields_free(hl_fields, &raw);
	sets_free(&rcsets);
	return r;
}

/* ---- static ------------------------------------------------------------------- */

struct static_addr_raw {
	char *address;
	struct ipaddr gateway;
};

struct static_addrs_raw {
	struct static_addr_raw *v;
	size_t n;
};

static const struct cni_field static_addr_fields[] = {
	{ .key = "address",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct static_addr_raw, address),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "gateway",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct static_addr_raw, gateway),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void static_addrs_free(void *dst)
{
	struct static_addrs_raw *a = dst;

	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].address);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static int decode_static_addrs(const struct cni_json *v, void *dst, const char *path,
			       struct cni_error **err)
{
	struct static_addrs_raw *out = dst, a = { 0 };

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected a list", path);
	if (decode_obj_list(v, static_addr_fields, &a.v, &a.n, sizeof(*a.v), NULL, path,
			    "an object", err) < 0) {
		static_addrs_free(&a);
		return -1;
	}
	static_addrs_free(out);
	*out = a;
	return 0;
}

struct static_raw {
	struct static_addrs_raw addrs;
	struct cni_routes routes;
	struct cni_dns dns;
};

static const struct cni_field static_fields[] = {
	{ .key = "addresses",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct static_raw, addrs),
	  .flags = CNI_FIELD_NULL_OK,
	  .decode = decode_static_addrs,
	  .free = static_addrs_free },
	{ .key = "routes",
	  .kind = CNI_FIELD_ROUTES,
	  .offset = offsetof(struct static_raw, routes),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "dns",
	  .kind = CNI_FIELD_DNS,
	  .offset = offsetof(struct static_raw, dns),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

/* An address while the sources are merged: config ones are parsed only if they survive. */
struct st_addr {
	const char *text; /* config entry not parsed yet, or NULL */
	bool from_config;
	struct ipnet address;
	struct ipaddr gateway;
};

struct st_list {
	struct st_addr *v;
	size_t n;
};

void ipam_static_conf_free(struct ipam_static_conf *c)
{
	if (!c)
		return;
	free(c->addrs);
	cni_routes_free(&c->routes);
	cni_dns_free(&c->dns);
	free(c);
}

void ipam_static_conf_freep(struct ipam_static_conf **c)
{
	ipam_static_conf_free(*c);
	*c = NULL;
}

static void trim(char **s)
{
	char *b = *s, *e = b + strlen(b);

	while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r' || *b == '\v' || *b == '\f')
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' ||
			 e[-1] == '\v' || e[-1] == '\f'))
		e--;
	*e = '\0';
	*s = b;
}

static int static_env_args(const struct cni_cmd *cmd, struct st_list *l, struct cni_error **err)
{
	const char *ip = cni_env_args_get(&cmd->args, "IP");
	const char *gw = cni_env_args_get(&cmd->args, "GATEWAY");

	if (ip && *ip) {
		cleanup_free char *copy = xstrdup(ip);

		/* strtok_r would merge empty items; Go's strings.Split keeps them (and fails). */
		for (char *item = copy, *next; item; item = next) {
			struct st_addr *a;

			next = strchr(item, ',');
			if (next)
				*next++ = '\0';
			trim(&item);
			a = xappend(&l->v, &l->n, sizeof(*l->v));
			if (ipnet_parse(item, &a->address) < 0)
				return cni_error_set(
					err, CNI_ERR_INVALID_CONFIG, 0,
					"the 'ip' field is expected to be in CIDR notation, got: '%s'",
					item);
		}
	}
	if (gw && *gw) {
		cleanup_free char *copy = xstrdup(gw);

		for (char *item = copy, *next; item; item = next) {
			struct ipaddr g;

			next = strchr(item, ',');
			if (next)
				*next++ = '\0';
			trim(&item);
			if (ipaddr_parse(item, &g) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "invalid gateway address: %s", item);
			for (size_t i = 0; i < l->n; i++) {
				struct st_addr *a = &l->v[i];

				/*
				 * The reference sets it on CNI_ARGS addresses only; a
				 * config address without a gateway gets it too, one
				 * with a gateway of its own keeps that.
				 */
				if (a->from_config) {
					if (ipaddr_is_set(&a->gateway))
						continue;
					if (a->text && ipnet_parse(a->text, &a->address) == 0)
						a->text = NULL;
				}
				if (!a->text && ipnet_contains(&a->address, &g))
					a->gateway = g;
			}
		}
	}
	return 0;
}

static int replace_with(struct st_list *l, const struct strv *ips, struct cni_error **err)
{
	l->n = 0;
	for (size_t i = 0; i < ips->n; i++) {
		struct st_addr *a = xappend(&l->v, &l->n, sizeof(*l->v));

		if (ipnet_parse(ips->v[i], &a->address) < 0)
			return cni_error_set(
				err, CNI_ERR_INVALID_CONFIG, 0,
				"an entry in the 'ips' field is NOT in CIDR notation, got: '%s'",
				ips->v[i]);
	}
	return 0;
}

int ipam_static_conf_load(const struct cni_cmd *cmd, struct ipam_static_conf **ret,
			  struct cni_error **err)
{
	const struct cni_netconf *conf = cmd->conf;
	const struct cni_json *root = cni_netconf_root(conf), *ipam;
	cleanup_static_conf struct ipam_static_conf *c = NULL;
	struct static_raw raw = { 0 };
	struct st_list l = { 0 };
	unsigned int v4 = 0, v6 = 0;
	int r = -1;

	ipam = root ? cni_json_get(root, "ipam") : NULL;
	if (!ipam || cni_json_is_null(ipam))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "IPAM config missing 'ipam' key");
	if (!cni_json_is_object(ipam))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "ipam: expected an object");
	if (cni_json_decode(ipam, static_fields, &raw, "ipam", err) < 0)
		return -1;

	for (size_t i = 0; i < raw.addrs.n; i++) {
		struct st_addr *a = xappend(&l.v, &l.n, sizeof(*l.v));

		a->text = raw.addrs.v[i].address ? raw.addrs.v[i].address : "";
		a->gateway = raw.addrs.v[i].gateway;
		a->from_config = true;
	}
	if (static_env_args(cmd, &l, err) < 0)
		goto out;
	if (conf->args_ips.n && replace_with(&l, &conf->args_ips, err) < 0)
		goto out;
	if (conf->rc.ips.n && replace_with(&l, &conf->rc.ips, err) < 0)
		goto out;

	c = xcalloc(1, sizeof(*c));
	c->addrs = xcalloc(l.n, sizeof(*c->addrs));
	for (size_t i = 0; i < l.n; i++) {
		struct st_addr *a = &l.v[i];

		if (a->text && ipnet_parse(a->text, &a->address) < 0) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				      "the 'address' field is expected to be in CIDR notation, got: '%s'",
				      a->text);
			goto out;
		}
		if (a->gateway.family && a->gateway.family != a->address.addr.family) {
			char abuf[IPADDR_STRLEN], nbuf[IPNET_STRLEN];

			cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				      "gateway %s is not in the address family of %s",
				      ipaddr_fmt(&a->gateway, abuf), ipnet_fmt(&a->address, nbuf));
			goto out;
		}
		c->addrs[c->n_addrs].address = a->address;
		c->addrs[c->n_addrs].gateway = a->gateway;
		c->n_addrs++;
		if (a->address.addr.family == AF_INET)
			v4++;
		else
			v6++;
	}
	if ((v4 > 1 || v6 > 1) && conf->version < CNI_V030) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "CNI version %s does not support more than 1 address per family",
			      conf->cni_version ? conf->cni_version : "");
		goto out;
	}
	c->routes = raw.routes;
	memset(&raw.routes, 0, sizeof(raw.routes));
	c->dns = raw.dns;
	memset(&raw.dns, 0, sizeof(raw.dns));
	*ret = TAKE_PTR(c);
	r = 0;
out:
	free(l.v);
	cni_fields_free(static_fields, &raw);
	return r;
}

/* ---- resolv.conf ------------------------------------------------------------ */

int ipam_parse_resolv_conf(const char *path, struct cni_dns *dns, struct cni_error **err)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	size_t cap = 0;
	struct stat st = { 0 };
	int fd;

	/* O_NONBLOCK: a FIFO at the path must not hang the plugin (opening one blocks). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cni_error_errno(err, errno, "open resolvConf %s", path);
	if (fstat(fd, &st) < 0 || S_ISFIFO(st.st_mode) || S_ISDIR(st.st_mode) ||
	    fcntl(fd, F_SETFL, 0) < 0 || !(f = fdopen(fd, "re"))) {
		int e = errno;

		(void)close(fd);
		if (S_ISFIFO(st.st_mode) || S_ISDIR(st.st_mode))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "resolvConf %s is not a file", path);
		return cni_error_errno(err, e, "open resolvConf %s", path);
	}
	errno = 0;
	while (getline(&line, &cap, f) >= 0) {
		char *fields[64], *save = NULL, *tok;
		size_t n = 0;

		for (tok = strtok_r(line, " \t\r\n\v\f", &save); tok && n < ARRAY_SIZE(fields);
		     tok = strtok_r(NULL, " \t\r\n\v\f", &save))
			fields[n++] = tok;
		/* Blank lines, comments, keys without a value. */
		if (n < 2 || fields[0][0] == '#' || fields[0][0] == ';')
			continue;
		if (strcmp(fields[0], "nameserver") == 0) {
			strv_push(&dns->nameservers, fields[1]);
		} else if (strcmp(fields[0], "domain") == 0) {
			free(dns->domain);
			dns->domain = xstrdup(fields[1]);
		} else if (strcmp(fields[0], "search") == 0) {
			for (size_t i = 1; i < n; i++)
				strv_push(&dns->search, fields[i]);
		} else if (strcmp(fields[0], "options") == 0) {
			for (size_t i = 1; i < n; i++)
				strv_push(&dns->options, fields[i]);
		}
	}
	if (ferror(f))
		return cni_error_errno(err, errno ? errno : EIO, "read resolvConf %s", path);
	return 0;
}
