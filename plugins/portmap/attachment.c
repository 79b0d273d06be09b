/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What one attachment (network, container, ifname) maps: the keys of its
 * elements, derived from portMappings and prevResult, and the index its
 * owner element carries so that DEL can rebuild those keys without either
 * (docs/portmap.md, "nftables layout").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/nft_owned.h"
#include "../../pkg/skel.h"
#include "portmap.h"

void pm_attachment_free(struct pm_attachment *a)
{
	free(a->tag);
	free(a->index);
	free(a->elems.v);
	memset(a, 0, sizeof(*a));
}

/*
 * The first IPv4 and IPv6 address of prevResult on CNI_IFNAME, as the
 * reference: an address whose interface index names another interface, or
 * one without a sandbox (a host-side interface), is not the container's.
 */
static void container_addrs(const struct cni_cmd *cmd, struct pm_attachment *a)
{
	const struct cni_result *r = cmd->conf->prev_result;

	for (size_t i = 0; r && i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];
		struct ipnet *slot = ip->address.addr.family == AF_INET ? &a->v4 : &a->v6;

		if (ip->interface >= 0) {
			const struct cni_iface *f;
			if ((size_t)ip->interface >= r->n_ifaces)
				continue;
			f = &r->ifaces[ip->interface];
			if (!f->name || strcmp(f->name, cmd->ifname) != 0 || !f->sandbox ||
			    !*f->sandbox)
				continue;
		}
		if (!ipaddr_is_set(&slot->addr))
			*slot = ip->address;
	}
}

uint8_t pm_proto_num(const char *p)
{
	if (strcmp(p, "udp") == 0)
		return IPPROTO_UDP;
	if (strcmp(p, "sctp") == 0)
		return IPPROTO_SCTP;
	return IPPROTO_TCP;
}

const char *pm_proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "udp" : p == IPPROTO_SCTP ? "sctp" : "tcp";
}

static void put_port(uint8_t *slot, int port)
{
	slot[0] = (uint8_t)(port >> 8);
	slot[1] = (uint8_t)port;
}

/* A map element: [host address .] proto . host port : container address . port. */
static void map_elem(struct pm_elem *e, enum pm_set set, const struct ipaddr *host,
		     const struct ipnet *ctr, const struct cni_port_mapping *m)
{
	uint32_t alen = ipaddr_len(&ctr->addr), off = 0;

	memset(e, 0, sizeof(*e));
	e->set = set;
	e->host_port = m->host_port;
	e->proto = pm_proto_num(m->protocol);
	if (host) {
		memcpy(e->key, host->b, alen);
		off = alen;
	}
	e->key[off] = e->proto;
	put_port(e->key + off + 4, m->host_port);
	e->key_len = off + 8;
	memcpy(e->data, ctr->addr.b, alen);
	put_port(e->data + alen, m->container_port);
	e->data_len = alen + 4;
}

/* A container address in one of the hash sets (N-hc, N-ma, N-lo). */
static void addr_elem(struct pm_elem *e, enum pm_set set, const struct ipnet *ctr)
{
	memset(e, 0, sizeof(*e));
	e->set = set;
	memcpy(e->key, ctr->addr.b, ipaddr_len(&ctr->addr));
	e->key_len = ipaddr_len(&ctr->addr);
}

/* The shared subnet . subnet element of N-hs4/6 for the container's subnet. */
static void hs_elem(struct pm_elem *e, const struct ipnet *ctr)
{
	uint32_t alen = ipaddr_len(&ctr->addr);
	struct ipaddr lo, hi;

	ipnet_network(ctr, &lo);
	ipnet_last(ctr, &hi);
	memset(e, 0, sizeof(*e));
	e->set = ctr->addr.family == AF_INET ? PM_HS4 : PM_HS6;
	memcpy(e->key, lo.b, alen);
	memcpy(e->key + alen, lo.b, alen);
	memcpy(e->key_end, hi.b, alen);
	memcpy(e->key_end + alen, hi.b, alen);
	e->key_len = e->key_end_len = 2 * alen;
}

/* The owner element first (attachment_for_add's promise), then by set and key. */
static int set_rank(enum pm_set s)
{
	return s == PM_OWNERS ? -1 : (int)s;
}

int pm_elem_cmp(const void *pa, const void *pb)
{
	const struct pm_elem *a = pa, *b = pb;

	if (a->set != b->set)
		return set_rank(a->set) < set_rank(b->set) ? -1 : 1;
	if (a->key_len != b->key_len)
		return a->key_len < b->key_len ? -1 : 1;
	return memcmp(a->key, b->key, a->key_len);
}

/*
 * The same key twice: one element when the data agree, a config error when
 * a host port is mapped to two container ports.  Sorting makes this
 * O(n log n): a pairwise check took seconds at 65535 mappings.
 */
static int dedup_elems(struct pm_attachment *a, struct cni_error **err)
{
	size_t out = 0;

	qsort(a->elems.v, a->elems.n, sizeof(*a->elems.v), pm_elem_cmp);
	for (size_t i = 0; i < a->elems.n; i++) {
		const struct pm_elem *e = &a->elems.v[i];

		if (out && pm_elem_cmp(&a->elems.v[out - 1], e) == 0) {
			const struct pm_elem *o = &a->elems.v[out - 1];

			if (o->data_len != e->data_len || memcmp(o->data, e->data, e->data_len) != 0)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "runtimeConfig.portMappings: host port %d/%s is "
						     "mapped twice, to different container ports",
						     e->host_port, pm_proto_name(e->proto));
			continue;
		}
		a->elems.v[out++] = *e;
	}
	a->elems.n = out;
	return 0;
}

static void owner_elem(struct pm_elem *e, const char *tag)
{
	memset(e, 0, sizeof(*e));
	e->set = PM_OWNERS;
	nft_owner_key(tag, e->key);
	e->key_len = CNIC_NFT_OWNER_KEY_LEN;
}

/* The elements of one family's mappings; duplicates with other data are config errors. */
static int family_elems(const struct pm_conf *conf, const struct cni_runtime_config *rc,
			const struct ipnet *ctr, struct pm_attachment *a, struct cni_error **err)
{
	bool v6 = ctr->addr.family == AF_INET6;
	bool any = false;

	if (!ipaddr_is_set(&ctr->addr))
		return 0;
	for (size_t i = 0; i < rc->n_port_mappings; i++) {
		const struct cni_port_mapping *m = &rc->port_mappings[i];
		const struct ipaddr *h = &m->host_ip;
		bool specific = ipaddr_is_set(h);
		struct pm_elem e;

		if (specific && h->family != ctr->addr.family)
			continue;
		/* 0.0.0.0 / :: mean any local address of that family only. */
		if (specific && !ipaddr_is_global_unicast(h) && !ipaddr_is_loopback(h) &&
		    !ipaddr_is_link_local_unicast(h)) {
			bool unspecified = true;
			for (unsigned int k = 0; k < ipaddr_len(h); k++)
				unspecified &= h->b[k] == 0;
			if (unspecified)
				specific = false;
		}
		if (specific)
			map_elem(&e, v6 ? PM_HIP6 : PM_HIP4, h, ctr, m);
		else
			map_elem(&e, v6 ? PM_ANY6 : PM_ANY4, NULL, ctr, m);
		if (!v6 && (!specific || ipaddr_is_loopback(h)))
			a->localnet = true;
		/* Duplicates go in dedup_elems(): a pairwise check is quadratic. */
		*(struct pm_elem *)xappend(&a->elems.v, &a->elems.n, sizeof(e)) = e;
		any = true;
	}
	if (any && conf->snat) {
		struct pm_elem e;

		if (conf->masq_all) {
			addr_elem(&e, v6 ? PM_MA6 : PM_MA4, ctr);
			*(struct pm_elem *)xappend(&a->elems.v, &a->elems.n, sizeof(e)) = e;
		} else {
			addr_elem(&e, v6 ? PM_HC6 : PM_HC4, ctr);
			*(struct pm_elem *)xappend(&a->elems.v, &a->elems.n, sizeof(e)) = e;
			hs_elem(&a->hs[a->n_hs++], ctr);
			if (!v6 && a->localnet) {
				addr_elem(&e, PM_LO4, ctr);
				*(struct pm_elem *)xappend(&a->elems.v, &a->elems.n, sizeof(e)) = e;
			}
		}
	}
	if (!any || !conf->snat)
		a->localnet = a->localnet && any && conf->snat;
	return 0;
}

static char *index_comment(const struct cni_cmd *cmd, const struct pm_conf *conf,
			   const struct pm_attachment *a);

int pm_attachment_for_add(const struct cni_cmd *cmd, const struct pm_conf *conf,
			  struct pm_attachment *ret, struct cni_error **err)
{
	struct pm_attachment a = { 0 };
	struct pm_elem owner;

	a.tag = nft_owner_tag(cmd->conf->name, cmd->container_id, cmd->ifname);
	container_addrs(cmd, &a);
	owner_elem(&owner, a.tag);
	*(struct pm_elem *)xappend(&a.elems.v, &a.elems.n, sizeof(owner)) = owner;
	if (family_elems(conf, &cmd->conf->rc, &a.v4, &a, err) < 0 ||
	    family_elems(conf, &cmd->conf->rc, &a.v6, &a, err) < 0 || dedup_elems(&a, err) < 0) {
		pm_attachment_free(&a);
		return -1;
	}
	a.index = index_comment(cmd, conf, &a);
	*ret = a;
	return 0;
}

/* ---- the index in the owner element ------------------------------------- */

/*
 * The owner element's comment is "<tag> i1;<flags>;<v4>;<v6>;<mappings>":
 * what family_elems() needs to rebuild every key of the attachment, so
 * that DEL looks its elements up one by one instead of reading whole sets
 * (which costs time proportional to every attachment of the network).
 * flags: s (snat), m (masqAll); v4/v6: container addresses, empty when
 * none; mappings: "<t|u|s><host port>[@<hostIP>]" separated by ','.  The
 * index has no space, so the tag is what precedes the last " i<digit>".
 * Element userdata holds at most NFT_USERDATA_MAXLEN bytes (255 for the
 * comment and its NUL): an attachment whose index does not fit gets just
 * the tag, and its DEL reads the network's sets instead.
 */
#define INDEX_MAX (NFT_USERDATA_MAXLEN - 3)

/* Length of the tag at the start of an element comment. */
size_t pm_comment_tag_len(const char *comment)
{
	const char *sp = strrchr(comment, ' ');

	if (sp && sp[1] == 'i' && sp[2] >= '0' && sp[2] <= '9')
		return (size_t)(sp - comment);
	return strlen(comment);
}

bool pm_comment_is_tag(const char *comment, const char *tag)
{
	size_t len = pm_comment_tag_len(comment);

	return len == strlen(tag) && strncmp(comment, tag, len) == 0;
}

static char proto_letter(uint8_t p)
{
	return p == IPPROTO_UDP ? 'u' : p == IPPROTO_SCTP ? 's' : 't';
}

static char *index_comment(const struct cni_cmd *cmd, const struct pm_conf *conf,
			   const struct pm_attachment *a)
{
	const struct cni_runtime_config *rc = &cmd->conf->rc;
	char b4[IPADDR_STRLEN] = "", b6[IPADDR_STRLEN] = "", h[IPADDR_STRLEN];
	char *s;

	if (ipaddr_is_set(&a->v4.addr))
		ipaddr_fmt(&a->v4.addr, b4);
	if (ipaddr_is_set(&a->v6.addr))
		ipaddr_fmt(&a->v6.addr, b6);
	s = xasprintf("%s i1;%s%s;%s;%s;", a->tag, conf->snat ? "s" : "", conf->masq_all ? "m" : "",
		      b4, b6);
	for (size_t i = 0; i < rc->n_port_mappings && strlen(s) <= INDEX_MAX; i++) {
		const struct cni_port_mapping *m = &rc->port_mappings[i];
		char *t;

		if (ipaddr_is_set(&m->host_ip))
			ipaddr_fmt(&m->host_ip, h);
		t = xasprintf("%s%s%c%d%s%s", s, i ? "," : "",
			      proto_letter(pm_proto_num(m->protocol)), m->host_port,
			      ipaddr_is_set(&m->host_ip) ? "@" : "",
			      ipaddr_is_set(&m->host_ip) ? h : "");
		free(s);
		s = t;
	}
	if (strlen(s) > INDEX_MAX) {
		free(s);
		return NULL;
	}
	return s;
}

static bool parse_addr(const char *s, int family, struct ipnet *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!*s)
		return true;
	if (ipaddr_parse(s, &ret->addr) < 0 || ret->addr.family != family)
		return false;
	ret->prefix = family == AF_INET ? 32 : 128;
	return true;
}

/*
 * The keys the attachment behind an owner comment added (its owner
 * element first), or -1 when the comment holds no index we understand.
 */
int pm_attachment_from_index(const char *tag, const char *comment, struct pm_attachment *ret)
{
	size_t tlen = strlen(tag);
	struct cni_runtime_config rc = { 0 };
	struct pm_conf conf = { 0 };
	struct pm_attachment a = { 0 };
	struct pm_elem owner;
	cleanup_free char *buf = NULL;
	char *p, *f[4];
	int r = -1;

	if (strncmp(comment, tag, tlen) != 0 || strncmp(comment + tlen, " i1;", 4) != 0)
		return -1;
	buf = xstrdup(comment + tlen + 4);
	p = buf;
	for (int i = 0; i < 4; i++) {
		f[i] = strsep(&p, ";");
		if (!f[i])
			return -1;
	}
	if (p || strspn(f[0], "sm") != strlen(f[0]) || !parse_addr(f[1], AF_INET, &a.v4) ||
	    !parse_addr(f[2], AF_INET6, &a.v6))
		return -1;
	conf.snat = strchr(f[0], 's') != NULL;
	conf.masq_all = strchr(f[0], 'm') != NULL;
	for (char *m = *f[3] ? f[3] : NULL, *next; m; m = next) {
		struct cni_port_mapping pm = { .container_port = 0 };
		char *at, *end;
		long port;

		next = strchr(m, ',');
		if (next)
			*next++ = '\0';
		pm.protocol = *m == 'u' ? "udp" : *m == 's' ? "sctp" : *m == 't' ? "tcp" : NULL;
		if (!pm.protocol)
			goto out;
		at = strchr(m, '@');
		if (at) {
			*at = '\0';
			if (ipaddr_parse(at + 1, &pm.host_ip) < 0)
				goto out;
		}
		errno = 0;
		port = strtol(m + 1, &end, 10);
		if (errno || end == m + 1 || *end || port < 1 || port > 65535)
			goto out;
		pm.host_port = (int)port;
		*(struct cni_port_mapping *)xappend(&rc.port_mappings, &rc.n_port_mappings,
						    sizeof(pm)) = pm;
	}
	a.tag = xstrdup(tag);
	owner_elem(&owner, tag);
	*(struct pm_elem *)xappend(&a.elems.v, &a.elems.n, sizeof(owner)) = owner;
	/* Container ports are not needed: keys only (same-key duplicates collapse). */
	if (family_elems(&conf, &rc, &a.v4, &a, NULL) < 0 ||
	    family_elems(&conf, &rc, &a.v6, &a, NULL) < 0 || dedup_elems(&a, NULL) < 0)
		goto out;
	*ret = a;
	memset(&a, 0, sizeof(a));
	r = 0;
out:
	free(rc.port_mappings);
	pm_attachment_free(&a);
	return r;
}
