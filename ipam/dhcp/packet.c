/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DHCPv4 messages (RFC 2131/2132) built and parsed by hand: the client needs
 * a handful of fixed fields and options, and every byte it reads comes from
 * the network, so each length is checked against what is left.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "dhcp.h"

#define BOOTP_LEN 236
#define MAGIC 0x63825363u
#define IP_HDR 20
#define UDP_HDR 8
#define MIN_BOOTP 300 /* RFC 1542: some relays drop shorter messages */

static const struct {
	const char *name;
	uint8_t code;
} names[] = {
	/* the reference's names (dhcp-options(5) spelling) */
	{ "dhcp-client-identifier", OPT_CLIENT_ID },
	{ "subnet-mask", OPT_SUBNET_MASK },
	{ "routers", OPT_ROUTER },
	{ "host-name", OPT_HOST_NAME },
	{ "user-class", OPT_USER_CLASS },
	{ "vendor-class-identifier", OPT_VENDOR_CLASS },
};

int dhcp_option_code(const char *name)
{
	unsigned long v = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].code;
	if (!*name || strlen(name) > 3)
		return -1;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 254 ? (int)v : -1;
}

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Append one option unless a provided one with the same code overrides it (as the reference). */
static bool provided(const struct dhcp_out *o, uint8_t code)
{
	if (!o->opts)
		return false;
	for (size_t i = 0; i < o->opts->n_provide; i++)
		if (o->opts->provide[i].code == code)
			return true;
	return false;
}

size_t dhcp_build(uint8_t *buf, size_t cap, const struct dhcp_out *o)
{
	uint8_t *b = buf + IP_HDR + UDP_HDR, *p;
	size_t need = IP_HDR + UDP_HDR + BOOTP_LEN + 4 + 3 + 2 + 256 + 6 + 6 + 2 + 258 + 1;
	size_t blen, total;

	if (o->opts)
		need += o->opts->n_provide * 257;
	if (cap < need || cap < IP_HDR + UDP_HDR + MIN_BOOTP)
		return 0;
	memset(buf, 0, need);

	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1; /* Ethernet */
	b[2] = 6;
	put32(b + 4, o->xid);
	put16(b + 8, o->secs);
	put16(b + 10, o->broadcast ? 0x8000 : 0);
	memcpy(b + 12, &o->ciaddr, 4);
	memcpy(b + 28, o->chaddr, 6);
	put32(b + BOOTP_LEN, MAGIC);
	p = b + BOOTP_LEN + 4;

	*p++ = OPT_MSG_TYPE;
	*p++ = 1;
	*p++ = o->type;
	if (o->client_id && !provided(o, OPT_CLIENT_ID)) {
		size_t n = strnlen(o->client_id, DHCP_CLIENT_ID_MAX);

		*p++ = OPT_CLIENT_ID;
		*p++ = (uint8_t)(n + 1);
		*p++ = 0;
		memcpy(p, o->client_id, n);
		p += n;
	}
	if (o->req_ip) {
		*p++ = OPT_REQUESTED_IP;
		*p++ = 4;
		memcpy(p, &o->req_ip, 4);
		p += 4;
	}
	if (o->server) {
		*p++ = OPT_SERVER_ID;
		*p++ = 4;
		memcpy(p, &o->server, 4);
		p += 4;
	}
	if (o->opts && o->type != DHCPRELEASE) {
		if (o->opts->n_request && !provided(o, OPT_PARAM_LIST)) {
			*p++ = OPT_PARAM_LIST;
			*p++ = (uint8_t)o->opts->n_request;
			memcpy(p, o->opts->request, o->opts->n_request);
			p += o->opts->n_request;
		}
		for (size_t i = 0; i < o->opts->n_provide; i++) {
			const struct dhcp_opt *op = &o->opts->provide[i];

			*p++ = op->code;
			*p++ = op->len;
			memcpy(p, op->val, op->len);
			p += op->len;
		}
	}
	*p++ = OPT_END;
	blen = (size_t)(p - b);
	if (blen < MIN_BOOTP)
		blen = MIN_BOOTP;

	/* UDP 68 -> 67, checksum over the pseudo-header */
	{
		uint8_t *u = buf + IP_HDR;
		uint8_t ph[12];
		uint32_t sum = 0;
		uint16_t c;

		put16(u, 68);
		put16(u + 2, 67);
		put16(u + 4, (uint16_t)(UDP_HDR + blen));
		memcpy(ph, &o->ip_src, 4);
		memcpy(ph + 4, &o->ip_dst, 4);
		ph[8] = 0;
		ph[9] = 17;
		put16(ph + 10, (uint16_t)(UDP_HDR + blen));
		for (int i = 0; i < 12; i += 2)
			sum += (uint32_t)ph[i] << 8 | ph[i + 1];
		c = csum(u, UDP_HDR + blen, sum);
		put16(u + 6, c ? c : 0xffff);
	}
	total = IP_HDR + UDP_HDR + blen;
	buf[0] = 0x45;
	buf[1] = 0x10; /* low delay, as dhclient */
	put16(buf + 2, (uint16_t)total);
	buf[8] = 64;
	buf[9] = 17;
	memcpy(buf + 12, &o->ip_src, 4);
	memcpy(buf + 16, &o->ip_dst, 4);
	put16(buf + 10, csum(buf, IP_HDR, 0));
	return total;
}

int dhcp_parse_bootp(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
	size_t i;

	memset(m, 0, offsetof(struct dhcp_msg, data));
	m->data_len = 0;
	if (len < BOOTP_LEN + 4 || len > sizeof(m->raw))
		return -1;
	if (p[1] != 1 || p[2] != 6 || get32(p + BOOTP_LEN) != MAGIC)
		return -1;
	memcpy(m->raw, p, len);
	m->raw_len = len;
	m->op = p[0];
	m->xid = get32(p + 4);
	m->flags = (uint16_t)(p[10] << 8 | p[11]);
	memcpy(&m->ciaddr, p + 12, 4);
	memcpy(&m->yiaddr, p + 16, 4);
	memcpy(&m->siaddr, p + 20, 4);
	memcpy(m->chaddr, p + 28, 6);

	for (i = BOOTP_LEN + 4; i < len;) {
		uint8_t code = p[i], olen;

		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (code == OPT_END)
			break;
		if (i + 1 >= len)
			return -1;
		olen = p[i + 1];
		if (i + 2 + olen > len)
			return -1;
		if (m->has[code]) {
			/* RFC 3396: repeats concatenate; only when contiguous in data */
			if (m->off[code] + m->len[code] != m->data_len)
				return -1;
		} else {
			m->has[code] = true;
			m->off[code] = (uint16_t)m->data_len;
		}
		if (m->data_len + olen > sizeof(m->data))
			return -1;
		memcpy(m->data + m->data_len, p + i + 2, olen);
		m->data_len += olen;
		m->len[code] = (uint16_t)(m->len[code] + olen);
		i += 2u + olen;
	}
	if (m->has[OPT_MSG_TYPE] && m->len[OPT_MSG_TYPE] == 1)
		m->type = m->data[m->off[OPT_MSG_TYPE]];
	return 0;
}

int dhcp_parse_ip(const uint8_t *pkt, size_t len, struct dhcp_msg *m)
{
	size_t ihl, tot, ulen;
	const uint8_t *u;

	if (len < IP_HDR + UDP_HDR || (pkt[0] >> 4) != 4)
		return -1;
	ihl = (size_t)(pkt[0] & 0xf) * 4;
	tot = (size_t)(pkt[2] << 8 | pkt[3]);
	if (ihl < IP_HDR || tot > len || tot < ihl + UDP_HDR || pkt[9] != 17)
		return -1;
	/* fragments are not reassembled: a DHCP reply fits one frame */
	if ((pkt[6] & 0x3f) || pkt[7])
		return -1;
	u = pkt + ihl;
	if ((u[2] << 8 | u[3]) != 68)
		return -1;
	ulen = (size_t)(u[4] << 8 | u[5]);
	if (ulen < UDP_HDR || ulen > tot - ihl)
		return -1;
	if (dhcp_parse_bootp(u + UDP_HDR, ulen - UDP_HDR, m) < 0)
		return -1;
	return m->op == 2 ? 0 : -1;
}

bool dhcp_opt_u32(const struct dhcp_msg *m, uint8_t code, uint32_t *ret)
{
	if (!m->has[code] || m->len[code] < 4)
		return false;
	memcpy(ret, m->data + m->off[code], 4);
	return true;
}

static int mask_prefix(uint32_t mask_n)
{
	uint32_t m = ntohl(mask_n);
	int n = 0;

	while (n < 32 && (m & (0x80000000u >> n)))
		n++;
	if (n < 32 && (m << n))
		return -1; /* not contiguous */
	return n;
}

static void fmt4(uint32_t a, char buf[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* Append to a bounded buffer; the result JSON holds at most ~150 routes. */
struct sbuf {
	char b[16384];
	size_t n;
	bool full;
};

static void __attribute__((format(printf, 2, 3))) sb_add(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (s->full)
		return;
	va_start(ap, fmt);
	r = vsnprintf(s->b + s->n, sizeof(s->b) - s->n, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sizeof(s->b) - s->n)
		s->full = true;
	else
		s->n += (size_t)r;
}

static void route(struct sbuf *s, bool *first, uint32_t dst, int prefix, uint32_t gw)
{
	char d[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	fmt4(dst, d);
	fmt4(gw, g);
	sb_add(s, "%s{\"dst\":\"%s/%d\"", *first ? "" : ",", d, prefix);
	if (gw)
		sb_add(s, ",\"gw\":\"%s\"}", g);
	else
		sb_add(s, ",\"scope\":253}"); /* on-link: RT_SCOPE_LINK, as the reference */
	*first = false;
}

char *dhcp_result_json(const struct dhcp_msg *ack, const char **why)
{
	static struct sbuf s;
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	uint32_t mask, gw = 0;
	bool first = true;
	int prefix;

	if (!dhcp_opt_u32(ack, OPT_SUBNET_MASK, &mask)) {
		*why = "DHCP option Subnet Mask not found in DHCPACK";
		return NULL;
	}
	prefix = mask_prefix(mask);
	if (prefix < 0) {
		*why = "DHCP option Subnet Mask in DHCPACK is not a contiguous mask";
		return NULL;
	}
	(void)dhcp_opt_u32(ack, OPT_ROUTER, &gw);
	memset(&s, 0, sizeof(s));
	fmt4(ack->yiaddr, a);
	sb_add(&s, "{\"cniVersion\":\"1.1.0\",\"ips\":[{\"address\":\"%s/%d\"", a, prefix);
	if (gw) {
		fmt4(gw, g);
		sb_add(&s, ",\"gateway\":\"%s\"", g);
	}
	sb_add(&s, "}],\"routes\":[");
	if (ack->has[OPT_CLASSLESS_ROUTES] && ack->len[OPT_CLASSLESS_ROUTES] > 0) {
		const uint8_t *p = ack->data + ack->off[OPT_CLASSLESS_ROUTES];
		size_t n = ack->len[OPT_CLASSLESS_ROUTES], i = 0;

		/* RFC 3442: width, significant octets of the destination, router */
		while (i < n) {
			uint8_t w = p[i++], dst[4] = { 0 };
			size_t oct = (w + 7u) / 8u;
			uint32_t d, r;

			if (w > 32 || i + oct + 4 > n)
				break; /* malformed tail: keep what parsed */
			memcpy(dst, p + i, oct);
			i += oct;
			memcpy(&d, dst, 4);
			memcpy(&r, p + i, 4);
			i += 4;
			route(&s, &first, d, w, r);
		}
	} else {
		if (ack->has[OPT_STATIC_ROUTES]) {
			const uint8_t *p = ack->data + ack->off[OPT_STATIC_ROUTES];
			size_t n = ack->len[OPT_STATIC_ROUTES];

			for (size_t i = 0; i + 8 <= n; i += 8) {
				uint32_t d, r;
				int cp = p[i] < 128 ? 8 : p[i] < 192 ? 16 : p[i] < 224 ? 24 : -1;

				if (cp < 0)
					continue; /* class D/E: no classful mask */
				memcpy(&d, p + i, 4);
				memcpy(&r, p + i + 4, 4);
				d &= htonl(~0u << (32 - cp));
				route(&s, &first, d, cp, r);
			}
		}
		if (gw)
			route(&s, &first, 0, 0, gw);
	}
	sb_add(&s, "]}");
	if (s.full) {
		*why = "DHCPACK carries more routes than fit a result";
		return NULL;
	}
	return xstrdup(s.b);
}
