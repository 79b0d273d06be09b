/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tuning: a chained plugin that adjusts the container interface CNI_IFNAME
 * and network sysctls of the container's namespace: "sysctl" (net.* only),
 * "mac", "promisc", "mtu", "allmulti", "txQLen", the same six under
 * args.cni, CNI_ARGS MAC and runtimeConfig.mac.  See docs/tuning.md.
 *
 * What ADD is about to change is first recorded in
 * <dataDir>/<container id>_<ifname>.json, in the reference's format (mac,
 * promisc, mtu, allmulti, txQLen hold the original values) plus a "cnic"
 * member the reference ignores: the values ADD set and the sysctls with
 * their original values.  DEL restores each value that still is what ADD
 * set (a later change by someone else wins), sysctls included, then removes
 * the file.  A failed ADD undoes what it did before returning its error.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/log.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/types.h"
#include "tuning.h"

#define DEFAULT_DATA_DIR "/run/cni/tuning"
#define ALLOWLIST "/etc/cni/tuning/allowlist.conf"
#define MAX_SYSCTLS 256

/* ---- configuration ------------------------------------------------------- */

struct kv {
	char *key;
	char *value;
};

struct kvs {
	struct kv *v;
	size_t n;
};

static void kvs_free(void *p)
{
	struct kvs *s = p;

	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].value);
	}
	free(s->v);
	*s = (struct kvs){ 0 };
}

/* Later keys replace earlier ones of the same name (args.cni.sysctl over sysctl). */
static void kvs_set(struct kvs *s, const char *key, const char *value)
{
	struct kv *e;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].key, key) == 0) {
			free(s->v[i].value);
			s->v[i].value = xstrdup(value);
			return;
		}
	}
	e = xappend(&s->v, &s->n, sizeof(*s->v));
	e->key = xstrdup(key);
	e->value = xstrdup(value);
}

struct kv_ctx {
	struct kvs *s;
	const char *path;
};

static int decode_kv(const char *key, const struct cni_json *v, void *arg, struct cni_error **err)
{
	struct kv_ctx *c = arg;
	const char *s = cni_json_string(v);

	if (!s)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s.%s: must be a string",
				     c->path, key);
	if (c->s->n >= MAX_SYSCTLS)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: more than %d sysctls",
				     c->path, MAX_SYSCTLS);
	kvs_set(c->s, key, s);
	return 0;
}

static int decode_sysctls(const struct cni_json *v, void *dst, const char *path,
			  struct cni_error **err)
{
	struct kv_ctx c = { .s = dst, .path = path };

	if (!cni_json_is_object(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: must be an object of strings", path);
	return cni_json_object_foreach(v, decode_kv, &c, err);
}

struct tuning_conf {
	char *data_dir;
	struct kvs sysctl;
	char *mac;
	bool promisc, has_promisc;
	int mtu;
	int txqlen;
	bool has_txqlen;
	bool allmulti, has_allmulti;
};

#define TC(m) offsetof(struct tuning_conf, m)

static const struct cni_field conf_fields[] = {
	{ .key = "dataDir", .kind = CNI_FIELD_STRING, .offset = TC(data_dir), .flags = CNI_FIELD_NULL_OK },
	{ .key = "sysctl",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = TC(sysctl),
	  .flags = CNI_FIELD_NULL_OK,
	  .decode = decode_sysctls,
	  .free = kvs_free },
	{ .key = "mac", .kind = CNI_FIELD_MAC, .offset = TC(mac), .flags = CNI_FIELD_NULL_OK },
	{ .key = "promisc",
	  .kind = CNI_FIELD_BOOL,
	  .offset = TC(promisc),
	  .present = TC(has_promisc),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = TC(mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "txQLen",
	  .kind = CNI_FIELD_INT,
	  .offset = TC(txqlen),
	  .present = TC(has_txqlen),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT32_MAX },
	{ .key = "allmulti",
	  .kind = CNI_FIELD_BOOL,
	  .offset = TC(allmulti),
	  .present = TC(has_allmulti),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ 0 },
};

/* args.cni: the same keys, each overriding the top-level one when present. */
struct args_conf {
	struct kvs sysctl;
	bool has_sysctl;
	char *mac;
	bool promisc, has_promisc;
	int mtu;
	bool has_mtu;
	int txqlen;
	bool has_txqlen;
	bool allmulti, has_allmulti;
};

#define AC(m) offsetof(struct args_conf, m)

static const struct cni_field args_fields[] = {
	{ .key = "sysctl",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = AC(sysctl),
	  .present = AC(has_sysctl),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .decode = decode_sysctls,
	  .free = kvs_free },
	{ .key = "mac", .kind = CNI_FIELD_MAC, .offset = AC(mac), .flags = CNI_FIELD_NULL_OK },
	{ .key = "promisc",
	  .kind = CNI_FIELD_BOOL,
	  .offset = AC(promisc),
	  .present = AC(has_promisc),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = AC(mtu),
	  .present = AC(has_mtu),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "txQLen",
	  .kind = CNI_FIELD_INT,
	  .offset = AC(txqlen),
	  .present = AC(has_txqlen),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT32_MAX },
	{ .key = "allmulti",
	  .kind = CNI_FIELD_BOOL,
	  .offset = AC(allmulti),
	  .present = AC(has_allmulti),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ 0 },
};

/* DEL needs only the backup's directory: a bad key elsewhere must not block it. */
static const struct cni_field del_fields[] = {
	{ .key = "dataDir", .kind = CNI_FIELD_STRING, .offset = TC(data_dir), .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void conf_free(struct tuning_conf *c)
{
	cni_fields_free(conf_fields, c);
}

static void replace_str(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

/*
 * The keys with their precedence (the reference's): "mac" < CNI_ARGS MAC <
 * runtimeConfig.mac < args.cni.mac; args.cni.* override the top-level keys.
 */
static int load_conf(const struct cni_cmd *cmd, struct tuning_conf *c, struct cni_error **err)
{
	static const char *const env_keys[] = { "MAC", NULL };
	const struct cni_json *args =
		cni_json_get(cni_json_get(cni_netconf_root(cmd->conf), "args"), "cni");
	struct args_conf a = { 0 };
	const char *env_mac;
	char mac[CNI_MAC_STRLEN];

	if (cni_json_decode(cni_netconf_root(cmd->conf),
			    cmd->verb == CNI_VERB_DEL ? del_fields : conf_fields, c, "", err) < 0)
		return -1;
	if (!c->data_dir || !*c->data_dir)
		replace_str(&c->data_dir, DEFAULT_DATA_DIR);
	if (cmd->verb == CNI_VERB_DEL)
		return 0;
	if (cni_env_args_check(&cmd->args, env_keys, err) < 0)
		return -1;
	env_mac = cni_env_args_get(&cmd->args, "MAC");
	if (env_mac && *env_mac) {
		if (cni_mac_parse(env_mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
					     "CNI_ARGS: invalid MAC address \"%s\"", env_mac);
		replace_str(&c->mac, mac);
	}
	if (cmd->conf->rc.mac && *cmd->conf->rc.mac) {
		if (cni_mac_parse(cmd->conf->rc.mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "runtimeConfig.mac: invalid MAC address \"%s\"",
					     cmd->conf->rc.mac);
		replace_str(&c->mac, mac);
	}
	if (args && !cni_json_is_null(args)) {
		if (cni_json_decode(args, args_fields, &a, "args.cni", err) < 0)
			return -1;
		for (size_t i = 0; a.has_sysctl && i < a.sysctl.n; i++)
			kvs_set(&c->sysctl, a.sysctl.v[i].key, a.sysctl.v[i].value);
		if (a.mac)
			replace_str(&c->mac, a.mac);
		if (a.has_promisc) {
			c->promisc = a.promisc;
			c->has_promisc = true;
		}
		if (a.has_mtu)
			c->mtu = a.mtu;
		if (a.has_allmulti) {
			c->allmulti = a.allmulti;
			c->has_allmulti = true;
		}
		if (a.has_txqlen) {
			c->txqlen = a.txqlen;
			c->has_txqlen = true;
		}
		cni_fields_free(args_fields, &a);
	}
	if (c->sysctl.n > MAX_SYSCTLS)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "more than %d sysctls",
				     MAX_SYSCTLS);
	return 0;
}

/* ---- sysctl names -------------------------------------------------------- */

/*
 * key with every "IFNAME" replaced by the interface name, as a name for
 * sysctl_path(): in a dotted key the name's own dots are written as '/' so
 * that the dot/slash swap turns them back into dots ("eth0.1").
 */
static char *subst_ifname(const char *key, const char *ifname)
{
	cleanup_free char *name = xstrdup(ifname);
	size_t klen = strlen(key), nlen = strlen(ifname), cap = 1, len = 0;
	bool dotted = false;
	char *out;

	for (const char *p = key; *p; p++) {
		if (*p == '.' || *p == '/') {
			dotted = *p == '.';
			break;
		}
	}
	for (char *p = name; dotted && *p; p++)
		if (*p == '.')
			*p = '/';
	cap = klen * (nlen > 6 ? nlen : 6) + 1;
	out = xmalloc(cap);
	for (const char *p = key; *p;) {
		if (strncmp(p, "IFNAME", 6) == 0) {
			memcpy(out + len, name, nlen);
			len += nlen;
			p += 6;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	return out;
}

/*
 * The kernel prints some values its own way ("0 100" reads back as
 * "0\t100"): compare with runs of whitespace as one space, ends trimmed.
 */
static char *squeeze(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\n')
			*o++ = *s;
		else if (o > out && o[-1] != ' ')
			*o++ = ' ';
	}
	if (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out;
}

static bool sysctl_equal(const char *a, const char *b)
{
	cleanup_free char *x = squeeze(a);
	cleanup_free char *y = squeeze(b);

	return strcmp(x, y) == 0;
}

struct sysctl_op {
	char *key;   /* as configured, for messages */
	char *name;  /* slash form relative to /proc/sys, e.g. net/ipv4/conf/eth0.1/rp_filter */
	char *value; /* to write */
	char *old;   /* value before ADD; NULL: not read yet */
	bool applied;
};

static void sysctl_ops_free(struct sysctl_op *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].value);
		free(v[i].old);
	}
	free(v);
}

/* Resolve and validate every key: a network sysctl, no path tricks, no duplicates. */
static int resolve_sysctls(const struct tuning_conf *c, const char *ifname, struct sysctl_op **ret,
			   struct cni_error **err)
{
	struct sysctl_op *v = xcalloc(c->sysctl.n ? c->sysctl.n : 1, sizeof(*v));

	for (size_t i = 0; i < c->sysctl.n; i++) {
		cleanup_free char *name = subst_ifname(c->sysctl.v[i].key, ifname);
		cleanup_free char *path = NULL;

		if (sysctl_path(name, true, &path, err) < 0) {
			sysctl_ops_free(v, c->sysctl.n);
			return cni_error_wrap(err, "sysctl \"%s\"", c->sysctl.v[i].key);
		}
		v[i].key = xstrdup(c->sysctl.v[i].key);
		v[i].name = xstrdup(path + strlen("/proc/sys/"));
		v[i].value = xstrdup(c->sysctl.v[i].value);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[j].name, v[i].name) == 0) {
				cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					      "sysctl keys \"%s\" and \"%s\" name the same sysctl",
					      v[j].key, v[i].key);
				sysctl_ops_free(v, i + 1);
				return -1;
			}
		}
	}
	*ret = v;
	return 0;
}

/*
 * The reference's optional allowlist: when the file exists, every sysctl
 * key (as written, before IFNAME is replaced) must match one of its lines,
 * each an unanchored regular expression (POSIX extended here).
 */
static int check_allowlist(const struct tuning_conf *c, struct cni_error **err)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	regex_t *res = NULL;
	size_t n_res = 0, cap = 0;
	int r = 0;

	if (c->sysctl.n == 0)
		return 0;
	f = fopen(ALLOWLIST, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return cni_error_errno(err, errno, "open %s", ALLOWLIST);
	}
	while (getline(&line, &cap, f) >= 0) {
		size_t len = strcspn(line, "\r\n");
		regex_t re;

		line[len] = '\0';
		if (len == 0)
			continue;
		if (regcomp(&re, line, REG_EXTENDED | REG_NOSUB) != 0) {
			r = cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					  "%s: invalid regular expression \"%s\"", ALLOWLIST, line);
			goto out;
		}
		*(regex_t *)xappend(&res, &n_res, sizeof(*res)) = re;
	}
	for (size_t i = 0; i < c->sysctl.n; i++) {
		bool ok = false;

		for (size_t j = 0; j < n_res && !ok; j++)
			ok = regexec(&res[j], c->sysctl.v[i].key, 0, NULL, 0) == 0;
		if (!ok) {
			r = cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					  "sysctl \"%s\" is not allowed by %s", c->sysctl.v[i].key,
					  ALLOWLIST);
			goto out;
		}
	}
out:
	for (size_t j = 0; j < n_res; j++)
		regfree(&res[j]);
	free(res);
	return r;
}

/* ---- the interface state: what it is, what ADD sets, what DEL restores --- */


static int read_attrs(struct netns *ns, const char *ifname, struct attrs *ret, struct cni_error **err)
{
	struct cnl_link l;

	if (cnl_link_get(ns, ifname, &l, err) < 0)
		return -1;
	memset(ret, 0, sizeof(*ret));
	for (int i = 0; i < A_COUNT; i++)
		ret->has[i] = true;
	snprintf(ret->mac, sizeof(ret->mac), "%s", l.mac);
	ret->promisc = l.flags & IFF_PROMISC;
	ret->allmulti = l.flags & IFF_ALLMULTI;
	ret->mtu = l.mtu;
	ret->txqlen = l.txqlen;
	return 0;
}

static bool attr_equal(const struct attrs *a, const struct attrs *b, enum attr i)
{
	switch (i) {
	case A_MAC:
		return strcasecmp(a->mac, b->mac) == 0;
	case A_PROMISC:
		return a->promisc == b->promisc;
	case A_MTU:
		return a->mtu == b->mtu;
	case A_ALLMULTI:
		return a->allmulti == b->allmulti;
	case A_TXQLEN:
		return a->txqlen == b->txqlen;
	default:
		return false;
	}
}

static int apply_attr(struct netns *ns, const char *ifname, const struct attrs *v, enum attr i,
		      struct cni_error **err)
{
	switch (i) {
	case A_MAC:
		return cnl_link_set_mac(ns, ifname, v->mac, err);
	case A_PROMISC:
		return cnl_link_set_promisc(ns, ifname, v->promisc, err);
	case A_MTU:
		return cnl_link_set_mtu(ns, ifname, (unsigned int)v->mtu, err);
	case A_ALLMULTI:
		return cnl_link_set_allmulti(ns, ifname, v->allmulti, err);
	case A_TXQLEN:
		return cnl_link_set_txqlen(ns, ifname, (uint32_t)v->txqlen, err);
	default:
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "unknown attribute %d", (int)i);
	}
}

/* What the configuration asks for. */
static void wanted_attrs(const struct tuning_conf *c, struct attrs *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (c->mac && *c->mac) {
		ret->has[A_MAC] = true;
		snprintf(ret->mac, sizeof(ret->mac), "%s", c->mac);
	}
	ret->has[A_PROMISC] = c->has_promisc;
	ret->promisc = c->promisc;
	ret->has[A_MTU] = c->mtu > 0;
	ret->mtu = c->mtu;
	ret->has[A_ALLMULTI] = c->has_allmulti;
	ret->allmulti = c->allmulti;
	ret->has[A_TXQLEN] = c->has_txqlen;
	ret->txqlen = c->txqlen;
}

/* ---- ADD ----------------------------------------------------------------- */

/* The interfaces of r named ifname, preferring those inside a sandbox. */
static void update_result(struct cni_result *r, const char *ifname, const struct attrs *want)
{
	bool sandboxed = false;

	for (size_t i = 0; i < r->n_ifaces; i++)
		sandboxed |= r->ifaces[i].name && strcmp(r->ifaces[i].name, ifname) == 0 &&
			     r->ifaces[i].sandbox && *r->ifaces[i].sandbox;
	for (size_t i = 0; i < r->n_ifaces; i++) {
		struct cni_iface *f = &r->ifaces[i];

		if (!f->name || strcmp(f->name, ifname) != 0 ||
		    (sandboxed && (!f->sandbox || !*f->sandbox)))
			continue;
		if (want->has[A_MAC])
			replace_str(&f->mac, want->mac);
		/* 1.1.0 results may carry the MTU: keep it true. */
		if (want->has[A_MTU] && f->mtu)
			f->mtu = (int)want->mtu;
	}
}

struct add_state {
	struct netns *ns;
	const char *ifname;
	struct sysctl_op *ops;
	size_t n_ops;
	struct attrs cur, want;
	bool applied[A_COUNT];
};

/* Put back what this ADD changed, newest first; errors are ignored (the ADD's own wins). */
static void undo_add(struct add_state *s)
{
	for (int i = A_COUNT - 1; i >= 0; i--)
		if (s->applied[i])
			(void)apply_attr(s->ns, s->ifname, &s->cur, i, NULL);
	for (size_t i = s->n_ops; i-- > 0;)
		if (s->ops[i].applied)
			(void)sysctl_set_net(s->ns, s->ops[i].name, s->ops[i].old, NULL);
}

/*
 * What the backup records: the original value of everything this ADD
 * changes, and what it sets.  prev (a backup left by an earlier ADD of this
 * attachment that was never DELeted) keeps its originals: the current
 * values may be that ADD's.  Returns whether anything needs restoring.
 */
static bool plan_backup(const struct add_state *s, const struct backup *prev, struct backup *bk)
{
	bool need = false;

	for (int i = 0; i < A_COUNT; i++) {
		if (!s->want.has[i])
			continue;
		bk->set.has[i] = true;
		if (prev && prev->orig.has[i]) {
			bk->orig.has[i] = true;
			continue;
		}
		if (attr_equal(&s->cur, &s->want, i))
			continue;
		bk->orig.has[i] = true;
		need = true;
	}
	memcpy(bk->orig.mac, s->cur.mac, sizeof(bk->orig.mac));
	bk->orig.promisc = s->cur.promisc;
	bk->orig.mtu = s->cur.mtu;
	bk->orig.allmulti = s->cur.allmulti;
	bk->orig.txqlen = s->cur.txqlen;
	if (prev) {
		if (prev->orig.has[A_MAC])
			memcpy(bk->orig.mac, prev->orig.mac, sizeof(bk->orig.mac));
		if (prev->orig.has[A_PROMISC])
			bk->orig.promisc = prev->orig.promisc;
		if (prev->orig.has[A_MTU])
			bk->orig.mtu = prev->orig.mtu;
		if (prev->orig.has[A_ALLMULTI])
			bk->orig.allmulti = prev->orig.allmulti;
		if (prev->orig.has[A_TXQLEN])
			bk->orig.txqlen = prev->orig.txqlen;
	}
	memcpy(bk->set.mac, s->want.mac, sizeof(bk->set.mac));
	bk->set.promisc = s->want.promisc;
	bk->set.mtu = s->want.mtu;
	bk->set.allmulti = s->want.allmulti;
	bk->set.txqlen = s->want.txqlen;
	for (size_t i = 0; i < s->n_ops; i++) {
		const char *old = s->ops[i].old;
		struct backup_sysctl *e;

		for (size_t j = 0; prev && j < prev->n_sysctls; j++)
			if (strcmp(prev->sysctls[j].name, s->ops[i].name) == 0)
				old = prev->sysctls[j].old;
		if (old == s->ops[i].old && sysctl_equal(old, s->ops[i].value))
			continue;
		e = xappend(&bk->sysctls, &bk->n_sysctls, sizeof(*e));
		e->name = xstrdup(s->ops[i].name);
		e->old = xstrdup(old);
		e->set = xstrdup(s->ops[i].value);
		need = true;
	}
	return need;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(conf_free))) struct tuning_conf c = { 0 };
	__attribute__((cleanup(backup_free))) struct backup prev = { 0 };
	__attribute__((cleanup(backup_free))) struct backup bk = { 0 };
	cleanup_netns struct netns *ns = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_free char *path = NULL;
	struct add_state s = { .ifname = cmd->ifname };
	bool had_backup, need_backup = false;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "must be called as chained plugin");
	if (check_allowlist(&c, err) < 0 || resolve_sysctls(&c, cmd->ifname, &s.ops, err) < 0)
		return -1;
	s.n_ops = c.sysctl.n;
	wanted_attrs(&c, &s.want);
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		goto fail_ops;
	s.ns = ns;
	/* Only link attributes need the link: sysctls alone work without CNI_IFNAME (reference). */
	for (int i = 0; i < A_COUNT; i++) {
		if (s.want.has[i]) {
			if (read_attrs(ns, cmd->ifname, &s.cur, err) < 0)
				goto fail_ops;
			break;
		}
	}
	for (size_t i = 0; i < s.n_ops; i++) {
		if (sysctl_get_net(ns, s.ops[i].name, &s.ops[i].old, err) < 0) {
			cni_error_wrap(err, "sysctl \"%s\"", s.ops[i].key);
			goto fail_ops;
		}
	}

	/* Record the originals before changing anything. */
	path = backup_path(c.data_dir, cmd->container_id, cmd->ifname);
	had_backup = backup_read(path, &prev, NULL) == 1;
	need_backup = plan_backup(&s, had_backup ? &prev : NULL, &bk);
	bk.network = xstrdup(cmd->conf->name);
	bk.container_id = xstrdup(cmd->container_id);
	bk.ifname = xstrdup(cmd->ifname);
	if ((need_backup || had_backup) && backup_write(c.data_dir, path, &bk, err) < 0)
		goto fail_ops;

	/* The reference's order: sysctls, then mac, promisc, mtu, allmulti, txqlen. */
	for (size_t i = 0; i < s.n_ops; i++) {
		if (sysctl_equal(s.ops[i].old, s.ops[i].value))
			continue;
		if (sysctl_set_net(ns, s.ops[i].name, s.ops[i].value, err) < 0) {
			cni_error_wrap(err, "sysctl \"%s\"", s.ops[i].key);
			goto undo;
		}
		s.ops[i].applied = true;
	}
	for (int i = 0; i < A_COUNT; i++) {
		if (!s.want.has[i] || attr_equal(&s.cur, &s.want, i))
			continue;
		if (apply_attr(ns, cmd->ifname, &s.want, i, err) < 0)
			goto undo;
		s.applied[i] = true;
	}

	r = cni_result_dup(cmd->conf->prev_result);
	update_result(r, cmd->ifname, &s.want);
	*ret = TAKE_PTR(r);
	sysctl_ops_free(s.ops, s.n_ops);
	return 0;

undo:
	undo_add(&s);
	if (!had_backup && need_backup)
		(void)unlink(path);
fail_ops:
	sysctl_ops_free(s.ops, s.n_ops);
	return -1;
}

/* ---- DEL ----------------------------------------------------------------- */

/*
 * Best effort: every attribute and sysctl is tried, whatever failed before
 * it, and every failure is collected into *err (the first keeps its code).
 */
static int restore(struct netns *ns, const char *ifname, const struct backup *b,
		   struct cni_error **err)
{
	struct attrs cur;
	int r = 0;

	/* ifname NULL: the link is gone, only netns-wide sysctls are left to restore. */
	if (ifname && read_attrs(ns, ifname, &cur, err) < 0) {
		r = -1;
	} else {
		/* Newest change first: the attributes, then the sysctls in reverse order. */
		for (int i = A_COUNT - 1; ifname && i >= 0; i--) {
			if (!b->orig.has[i])
				continue;
			/* Changed again since ADD by someone else: theirs now, leave it. */
			if (b->has_set && b->set.has[i] && !attr_equal(&cur, &b->set, i))
				continue;
			if (attr_equal(&cur, &b->orig, i))
				continue;
			if (apply_attr(ns, ifname, &b->orig, i, err) < 0)
				r = -1;
		}
	}
	for (size_t i = b->n_sysctls; i-- > 0;) {
		cleanup_free char *now = NULL;

		if (sysctl_get_net(ns, b->sysctls[i].name, &now, NULL) < 0)
			continue; /* gone with the interface */
		if (!sysctl_equal(now, b->sysctls[i].set))
			continue;
		if (sysctl_set_net(ns, b->sysctls[i].name, b->sysctls[i].old, err) < 0) {
			cni_error_wrap(err, "sysctl \"%s\"", b->sysctls[i].name);
			r = -1;
		}
	}
	return r;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(conf_free))) struct tuning_conf c = { 0 };
	__attribute__((cleanup(backup_free))) struct backup b = { 0 };
	cleanup_error struct cni_error *e = NULL;
	cleanup_netns struct netns *ns = NULL;
	cleanup_free char *path = NULL;
	struct cnl_link l;
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	path = backup_path(c.data_dir, cmd->container_id, cmd->ifname);
	/* An ADD killed while writing its backup left a temporary file: it is garbage now. */
	backup_remove_tmp(c.data_dir, path, false);
	r = backup_read(path, &b, &e);
	if (r == 0)
		return 0;
	/*
	 * A backup that cannot be read can never be restored: do not keep it
	 * forever, and do not fail the runtime's DEL chain over it.
	 */
	if (r < 0) {
		cni_log("DEL: dropping unreadable backup %s: %s", path, e ? e->msg : "?");
		cni_error_freep(&e);
		(void)unlink(path);
		return 0;
	}
	/* Netns gone: nothing left to restore; interface gone: its netns-wide sysctls. */
	if (cmd->netns_fd >= 0) {
		if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
			return -1;
		bool gone = false;

		if (cnl_link_get(ns, cmd->ifname, &l, &e) < 0) {
			if (!cnl_not_found(e))
				return cni_error_move(err, &e);
			cni_error_freep(&e);
			gone = true; /* only the netns-wide sysctls are left to restore */
		}
		if (restore(ns, gone ? NULL : cmd->ifname, &b, &e) < 0) {
			/*
			 * What cannot be written back now never will be (the
			 * reference agrees: a pod may have changed a sysctl so
			 * that the original value is refused).  Failing DEL
			 * would stop the runtime's whole DEL chain and leak the
			 * address, the veth and the host ports behind it.
			 */
			cni_log("DEL: could not restore everything: %s%s%s", e->msg,
				e->details ? ": " : "", e->details ? e->details : "");
			fprintf(stderr, "tuning: DEL %s/%s: could not restore: %s%s%s\n",
				cmd->container_id, cmd->ifname, e->msg, e->details ? ": " : "",
				e->details ? e->details : "");
		}
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return cni_error_errno(err, errno, "remove %s", path);
	return 0;
}

/* ---- CHECK --------------------------------------------------------------- */

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(conf_free))) struct tuning_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct sysctl_op *ops = NULL;
	struct attrs cur, want;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "required prevResult missing");
	if (resolve_sysctls(&c, cmd->ifname, &ops, err) < 0)
		return -1;
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		goto out_fail;
	for (size_t i = 0; i < c.sysctl.n; i++) {
		cleanup_free char *now = NULL;

		if (sysctl_get_net(ns, ops[i].name, &now, err) < 0)
			goto out_fail;
		if (!sysctl_equal(now, ops[i].value)) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "sysctl \"%s\" is \"%s\", configured \"%s\"", ops[i].key, now,
				      ops[i].value);
			goto out_fail;
		}
	}
	if (read_attrs(ns, cmd->ifname, &cur, err) < 0)
		goto out_fail;
	wanted_attrs(&c, &want);
	for (int i = 0; i < A_COUNT; i++) {
		if (want.has[i] && !attr_equal(&cur, &want, i)) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "interface \"%s\": %s differs from the configuration",
				      cmd->ifname, attr_key[i]);
			goto out_fail;
		}
	}
	sysctl_ops_free(ops, c.sysctl.n);
	return 0;
out_fail:
	sysctl_ops_free(ops, c.sysctl.n);
	return -1;
}

/* ---- GC ------------------------------------------------------------------ */

static bool is_valid_attachment(const struct cni_netconf *nc, const struct backup *b)
{
	for (size_t i = 0; i < nc->n_valid_attachments; i++)
		if (strcmp(nc->valid_attachments[i].container_id, b->container_id) == 0 &&
		    strcmp(nc->valid_attachments[i].ifname, b->ifname) == 0)
			return true;
	return false;
}

/*
 * Backups of this network's attachments that are not valid any more: their
 * container is gone, and with it whatever there was to restore.  The data
 * dir is shared by every network and the file name does not say which one
 * a backup belongs to, so only files that record their network (cnic's)
 * are considered; the reference's are left alone.
 */
static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(conf_free))) struct tuning_conf c = { 0 };
	const struct cni_netconf *nc = cmd->conf;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (cni_json_decode(cni_netconf_root(nc), del_fields, &c, "", err) < 0)
		return -1;
	if (!nc->has_valid_attachments)
		return 0;
	/* del_fields has no default: an absent dataDir is the default one. */
	if (!c.data_dir || !*c.data_dir)
		replace_str(&c.data_dir, DEFAULT_DATA_DIR);
	/* Temporary files of ADDs that died while writing are nobody's. */
	backup_remove_tmp(c.data_dir, NULL, true);
	d = opendir(c.data_dir);
	if (!d)
		return errno == ENOENT ? 0 : cni_error_errno(err, errno, "open %s", c.data_dir);
	while ((e = readdir(d))) {
		__attribute__((cleanup(backup_free))) struct backup b = { 0 };
		cleanup_free char *path = NULL;
		size_t n = strlen(e->d_name);

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		path = xasprintf("%s/%s", c.data_dir, e->d_name);
		if (backup_read(path, &b, NULL) != 1 || !b.network ||
		    strcmp(b.network, nc->name) != 0 || is_valid_attachment(nc, &b))
			continue;
		if (unlink(path) < 0 && errno != ENOENT && r == 0)
			r = cni_error_errno(err, errno, "remove %s", path);
	}
	closedir(d);
	return r;
}

static const struct cni_plugin plugin = {
	.name = "tuning",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
