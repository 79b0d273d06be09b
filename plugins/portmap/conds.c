/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conditionsV4/V6: extra matches a DNAT must also satisfy (docs/portmap.md,
 * "Conditions"), written as nftables expressions or, for configs made for
 * the reference's iptables backend, as iptables options.  Both become the
 * same matches (struct pm_cond), which nftables.c puts in front of the
 * network's DNAT rules: where the reference puts them too (its iptables
 * per-container entry rule and its nftables prerouting/output rule both
 * sit before the DNAT, in prerouting and output).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "../../pkg/cleanup.h"
#include "portmap.h"

/* Split the strings on whitespace into words (caller frees with strv_free). */
static void words(const struct strv *in, struct strv *out)
{
	for (size_t i = 0; i < in->n; i++) {
		cleanup_free char *copy = xstrdup(in->v[i]);
		char *save = NULL;

		for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
			strv_push(out, w);
	}
}

/*
 * As the reference tells them apart (by the first character: an iptables
 * option starts with '-' or '!', an nftables expression never does), but
 * on the first word, so that the parser below and this always agree.
 */
static enum pm_style style_of(const struct strv *w)
{
	if (w->n == 0)
		return PM_STYLE_NONE;
	return w->v[0][0] == '-' || w->v[0][0] == '!' ? PM_STYLE_IPT : PM_STYLE_NFT;
}

enum pm_style pm_conds_style(const struct strv *tokens)
{
	struct strv w = { 0 };
	enum pm_style s;

	words(tokens, &w);
	s = style_of(&w);
	strv_free(&w);
	return s;
}

/* NAME (whole, padded) or NAME+ (iptables: any name starting with NAME). */
static int parse_ifname(const char *value, bool prefix_ok, struct pm_cond *cd)
{
	size_t len = strlen(value);

	/* A lone "+" (every interface) would compare nothing: not worth a rule. */
	if (prefix_ok && strcmp(value, "+") == 0)
		return -1;
	if (prefix_ok && len > 1 && value[len - 1] == '+') {
		memcpy(cd->ifname, value, len - 1);
		cd->ifname_len = (uint32_t)(len - 1);
		return 0;
	}
	if (len == 0 || len >= sizeof(cd->ifname) || strchr(value, '/'))
		return -1;
	memcpy(cd->ifname, value, len);
	cd->ifname_len = sizeof(cd->ifname);
	return 0;
}

/* ---- nftables syntax ---------------------------------------------------- */

static int parse_nft(const struct strv *w, int family, const char *key, struct pm_conds *c,
		     struct cni_error **err)
{
	const char *ipkw = family == AF_INET ? "ip" : "ip6";
	size_t i = 0;

	while (i < w->n) {
		struct pm_cond *cd = xappend(&c->v, &c->n, sizeof(*cd));
		const char *what = w->v[i];
		const char *value;

		if (strcmp(what, "meta") == 0 && i + 1 < w->n && strcmp(w->v[i + 1], "iifname") == 0)
			what = w->v[++i];
		if (strcmp(what, ipkw) == 0 && i + 1 < w->n &&
		    (strcmp(w->v[i + 1], "saddr") == 0 || strcmp(w->v[i + 1], "daddr") == 0)) {
			cd->kind = w->v[i + 1][0] == 's' ? PM_COND_SADDR : PM_COND_DADDR;
			i += 2;
		} else if (strcmp(what, "iifname") == 0) {
			cd->kind = PM_COND_IIFNAME;
			i += 1;
		} else {
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: unsupported expression at \"%s\" (cnic supports %s "
					     "saddr/daddr [!=] ADDR[/LEN] and iifname [!=] NAME)",
					     key, w->v[i], ipkw);
		}
		if (i < w->n && (strcmp(w->v[i], "!=") == 0 || strcmp(w->v[i], "==") == 0))
			cd->neq = w->v[i++][0] == '!';
		if (i >= w->n)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: missing value at the end", key);
		value = w->v[i++];
		if (cd->kind == PM_COND_IIFNAME) {
			char name[32];
			size_t len = strlen(value);

			if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
				snprintf(name, sizeof(name), "%.*s", (int)(len - 2), value + 1);
			else
				snprintf(name, sizeof(name), "%s", len < sizeof(name) ? value : "/");
			if (parse_ifname(name, false, cd) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: invalid interface name \"%s\"", key, value);
		} else {
			bool had_prefix;
			if (ipnet_parse_maybe_prefix(value, &cd->net, &had_prefix) < 0 ||
			    cd->net.addr.family != family)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: invalid IPv%d address or prefix \"%s\"",
						     key, family == AF_INET ? 4 : 6, value);
			ipnet_canonical(&cd->net, &cd->net);
		}
	}
	return 0;
}

/* ---- iptables syntax ---------------------------------------------------- */

/* The options cnic translates, with iptables' long names. */
static const struct ipt_opt {
	const char *shrt, *lng, *lng2;
	enum pm_cond_kind kind;
} ipt_opts[] = {
	{ "-s", "--source", "--src", PM_COND_SADDR },
	{ "-d", "--destination", "--dst", PM_COND_DADDR },
	{ "-i", "--in-interface", NULL, PM_COND_IIFNAME },
	{ "-o", "--out-interface", NULL, PM_COND_OIFNAME },
	{ "-p", "--protocol", NULL, PM_COND_L4PROTO },
	{ "--sport", "--source-port", NULL, PM_COND_SPORT },
	{ "--dport", "--destination-port", NULL, PM_COND_DPORT },
};

static const struct ipt_opt *ipt_opt(const char *w)
{
	for (size_t i = 0; i < ARRAY_SIZE(ipt_opts); i++) {
		const struct ipt_opt *o = &ipt_opts[i];
		if (strcmp(w, o->shrt) == 0 || strcmp(w, o->lng) == 0 ||
		    (o->lng2 && strcmp(w, o->lng2) == 0))
			return o;
	}
	return NULL;
}

/* iptables' protocol names (as /etc/protocols has them), or a number; -1 if neither. */
static int parse_proto(const char *s)
{
	static const struct {
		const char *name;
		int num;
	} names[] = {
		{ "tcp", IPPROTO_TCP },		 { "udp", IPPROTO_UDP },
		{ "sctp", IPPROTO_SCTP },	 { "udplite", IPPROTO_UDPLITE },
		{ "dccp", IPPROTO_DCCP },	 { "icmp", IPPROTO_ICMP },
		{ "ipv6-icmp", IPPROTO_ICMPV6 }, { "icmpv6", IPPROTO_ICMPV6 },
		{ "esp", IPPROTO_ESP },		 { "ah", IPPROTO_AH },
		{ "gre", IPPROTO_GRE },		 { "all", 0 },
	};
	char *end;
	long n;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].num;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > 255)
		return -1;
	return (int)n;
}

static bool has_ports(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP || p == IPPROTO_UDPLITE ||
	       p == IPPROTO_DCCP;
}

static int parse_port(const char *s, long dflt, long *ret)
{
	char *end;

	if (!*s) {
		*ret = dflt;
		return 0;
	}
	errno = 0;
	*ret = strtol(s, &end, 10);
	return errno || end == s || *end || *ret < 0 || *ret > 65535 ? -1 : 0;
}

/* PORT, FIRST:LAST, :LAST or FIRST: (iptables' forms); names are not looked up. */
static int parse_ports(const char *s, struct pm_cond *cd)
{
	cleanup_free char *copy = xstrdup(s);
	char *colon = strchr(copy, ':');
	long lo, hi;

	if (!colon) {
		if (!*copy || parse_port(copy, 0, &lo) < 0)
			return -1;
		hi = lo;
	} else {
		*colon = '\0';
		if (parse_port(copy, 0, &lo) < 0 || parse_port(colon + 1, 65535, &hi) < 0 || lo > hi)
			return -1;
	}
	cd->port_lo = (uint16_t)lo;
	cd->port_hi = (uint16_t)hi;
	return 0;
}

/* ADDR[/LEN] or ADDR/MASK (iptables takes a contiguous dotted mask for IPv4). */
static int parse_ipt_net(const char *s, int family, struct ipnet *ret)
{
	cleanup_free char *copy = xstrdup(s);
	char *slash = strchr(copy, '/');
	bool had_prefix;

	if (slash && family == AF_INET && strchr(slash + 1, '.')) {
		struct ipaddr mask;
		uint32_t m;
		int len = 0;

		*slash = '\0';
		if (ipaddr_parse(slash + 1, &mask) < 0 || mask.family != AF_INET)
			return -1;
		m = (uint32_t)mask.b[0] << 24 | (uint32_t)mask.b[1] << 16 |
		    (uint32_t)mask.b[2] << 8 | mask.b[3];
		while (len < 32 && (m & (0x80000000u >> len)))
			len++;
		if (len < 32 && (m << len) != 0)
			return -1; /* not contiguous */
		if (ipaddr_parse(copy, &ret->addr) < 0 || ret->addr.family != AF_INET)
			return -1;
		ret->prefix = len;
	} else if (ipnet_parse_maybe_prefix(copy, ret, &had_prefix) < 0 ||
		   ret->addr.family != family) {
		return -1;
	}
	ipnet_canonical(ret, ret);
	return 0;
}

#define IPT_SUPPORTED "-s, -d, -i, -o, -p, --sport and --dport, each optionally after \"!\""

static int parse_ipt(const struct strv *w, int family, const char *key, struct pm_conds *c,
		     struct cni_error **err)
{
	unsigned int seen = 0;
	int proto = -1; /* a -p given (not negated): its number and name */
	const char *proto_name = NULL;

	for (size_t i = 0; i < w->n;) {
		bool neg = false;
		const struct ipt_opt *o;
		const char *opt, *value;
		struct pm_cond cd = { 0 };

		if (strcmp(w->v[i], "!") == 0) {
			neg = true;
			i++;
			if (i < w->n && strcmp(w->v[i], "!") == 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: multiple \"!\" flags not allowed", key);
		}
		if (i >= w->n)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: \"!\" at the end, without an option", key);
		opt = w->v[i++];
		o = ipt_opt(opt);
		if (!o)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: iptables option \"%s\" is not supported (cnic "
					     "translates " IPT_SUPPORTED ")",
					     key, opt);
		if (seen & (1u << o->kind))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: multiple %s flags not allowed", key, o->shrt);
		seen |= 1u << o->kind;
		if (i >= w->n)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: option \"%s\" requires an argument", key, opt);
		value = w->v[i++];
		if (strcmp(value, "!") == 0)
			/* iptables 1.8 refuses it too ("Bad argument"). */
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: \"%s !\" is not supported: write \"! %s VALUE\"",
					     key, opt, opt);
		cd.kind = o->kind;
		cd.neq = neg;
		switch (o->kind) {
		case PM_COND_SADDR:
		case PM_COND_DADDR:
			if (strchr(value, ','))
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"%s %s\": lists of addresses are not "
						     "supported (one address or prefix)",
						     key, opt, value);
			if (parse_ipt_net(value, family, &cd.net) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"%s %s\": not an IPv%d address or prefix",
						     key, opt, value, family == AF_INET ? 4 : 6);
			break;
		case PM_COND_IIFNAME:
		case PM_COND_OIFNAME:
			if (parse_ifname(value, true, &cd) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"%s %s\": invalid interface name", key,
						     opt, value);
			break;
		case PM_COND_L4PROTO: {
			int p = parse_proto(value);

			if (p < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"%s %s\": unknown protocol", key, opt,
						     value);
			if (p == 0) {
				/* "all" (or 0) matches every packet: nothing to add. */
				if (neg)
					return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
							     "%s: \"! %s %s\" matches nothing: it "
							     "would disable every mapping",
							     key, opt, value);
				continue;
			}
			cd.proto = (uint8_t)p;
			if (!neg) {
				proto = p;
				proto_name = value;
			}
			break;
		}
		case PM_COND_SPORT:
		case PM_COND_DPORT:
			if (parse_ports(value, &cd) < 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"%s %s\": not a port or FIRST:LAST port "
						     "range (numbers, 0-65535)",
						     key, opt, value);
			if (neg && cd.port_lo != cd.port_hi)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "%s: \"! %s %s\": a negated port range is not "
						     "supported (a negated single port is)",
						     key, opt, value);
			break;
		}
		*(struct pm_cond *)xappend(&c->v, &c->n, sizeof(cd)) = cd;
	}
	if (proto >= 0 && !has_ports((uint8_t)proto) &&
	    (seen & ((1u << PM_COND_SPORT) | (1u << PM_COND_DPORT))))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: --sport/--dport need a protocol with ports, not -p %s",
				     key, proto_name);
	return 0;
}

int pm_conds_parse(const struct strv *tokens, int family, const char *key, struct pm_conds *ret,
		   struct cni_error **err)
{
	struct strv w = { 0 };
	struct pm_conds c = { 0 };
	int r;

	words(tokens, &w);
	if (style_of(&w) == PM_STYLE_IPT)
		r = parse_ipt(&w, family, key, &c, err);
	else
		r = parse_nft(&w, family, key, &c, err);
	strv_free(&w);
	if (r < 0) {
		free(c.v);
		return -1;
	}
	*ret = c;
	return 0;
}
