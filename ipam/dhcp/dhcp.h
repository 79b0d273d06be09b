/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhcp: one binary, two roles (as the reference).  `dhcp daemon ...` runs
 * the lease keeper (daemon.c); any other invocation is the CNI plugin
 * (plugin.c), a thin client of the daemon's unix socket.
 *
 * The plugin <-> daemon protocol is ours: the plugin connects, writes one
 * JSON object and shuts its write side; the daemon answers with one JSON
 * object and closes.  Request:
 *   {"cmd": "add"|"del"|"check", "containerID", "netName", "ifName",
 *    "netns" (absolute, "" for a DEL without one),
 *    "provide": [{"code": 1-254, "value": "<=255 bytes"}],
 *    "request": [1-254, ...]}
 * Answer: {"result": <CNI 1.1.0 result>} or {"error": {code, msg, details}}.
 * Both sides bound what they read (DHCP_MAX_MSG) and how long they wait.
 */
#ifndef CNIC_DHCP_H
#define CNIC_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_DEFAULT_SOCKET "/run/cni/dhcp.sock"
#define DHCP_DEFAULT_STATEDIR "/var/lib/cni/dhcp"
#define DHCP_MAX_MSG (64u * 1024u)
#define DHCP_MAX_PROVIDE 64
#define DHCP_CLIENT_ID_MAX 254

/* DHCP message types (option 53). */
enum {
	DHCPDISCOVER = 1,
	DHCPOFFER = 2,
	DHCPREQUEST = 3,
	DHCPDECLINE = 4,
	DHCPACK = 5,
	DHCPNAK = 6,
	DHCPRELEASE = 7,
};

enum {
	OPT_PAD = 0,
	OPT_SUBNET_MASK = 1,
	OPT_ROUTER = 3,
	OPT_HOST_NAME = 12,
	OPT_STATIC_ROUTES = 33,
	OPT_REQUESTED_IP = 50,
	OPT_LEASE_TIME = 51,
	OPT_MSG_TYPE = 53,
	OPT_SERVER_ID = 54,
	OPT_PARAM_LIST = 55,
	OPT_RENEWAL_T1 = 58,
	OPT_REBINDING_T2 = 59,
	OPT_VENDOR_CLASS = 60,
	OPT_CLIENT_ID = 61,
	OPT_USER_CLASS = 77,
	OPT_CLASSLESS_ROUTES = 121,
	OPT_END = 255,
};

struct dhcp_opt {
	uint8_t code;
	uint8_t len;
	uint8_t val[255];
};

/* Everything the client puts in its messages besides the fixed fields. */
struct dhcp_client_opts {
	struct dhcp_opt provide[DHCP_MAX_PROVIDE];
	size_t n_provide;
	uint8_t request[256];
	size_t n_request;
};

/* ---- option names (plugin config) ---- */

/*
 * "routers", "subnet-mask", ... (the reference's names) or a decimal code;
 * 0 (pad) and 255 (end) are refused (the reference sends them and builds a
 * broken packet).  Returns the code, or -1.
 */
int dhcp_option_code(const char *name);

/* ---- packets (packet.c) ---- */

/* A received DHCP message, options indexed by code (repeats concatenated, RFC 3396). */
struct dhcp_msg {
	uint8_t op;
	uint32_t xid;
	uint16_t flags;
	uint8_t chaddr[6];
	uint32_t ciaddr, yiaddr, siaddr; /* network byte order */
	uint8_t type;			 /* option 53, 0: none */
	uint16_t off[256], len[256];
	bool has[256];
	uint8_t data[1500];
	size_t data_len;
	/* the BOOTP payload as received, for the state file */
	uint8_t raw[1500];
	size_t raw_len;
};

struct dhcp_out {
	uint8_t type;
	uint32_t xid;
	uint16_t secs;
	bool broadcast;	 /* BOOTP broadcast flag */
	uint32_t ciaddr; /* network order, 0: none */
	uint32_t req_ip; /* option 50, 0: none */
	uint32_t server; /* option 54, 0: none */
	uint32_t ip_src, ip_dst;
	const uint8_t *chaddr;
	const char *client_id;		     /* option 61, type 0 + the id (as the reference) */
	const struct dhcp_client_opts *opts; /* NULL for RELEASE */
};

/* Build an IPv4+UDP+BOOTP packet into buf; its length, or 0 when cap is too small. */
size_t dhcp_build(uint8_t *buf, size_t cap, const struct dhcp_out *o);

/*
 * Parse an IPv4 packet (what an AF_PACKET SOCK_DGRAM socket gives): UDP to
 * port 68, a BOOTP reply with the magic cookie and sane options.  0 / -1.
 */
int dhcp_parse_ip(const uint8_t *pkt, size_t len, struct dhcp_msg *m);
/* Parse a bare BOOTP payload (the state file's copy of an ACK).  0 / -1. */
int dhcp_parse_bootp(const uint8_t *p, size_t len, struct dhcp_msg *m);

/* Option value as a 32-bit integer / address (network order); false when absent or short. */
bool dhcp_opt_u32(const struct dhcp_msg *m, uint8_t code, uint32_t *ret);

/*
 * The CNI result of an ACK, as a CNI 1.1.0 JSON object (heap string): the
 * address with the mask's prefix, the first router as gateway, routes from
 * option 121, else option 33 plus a default route via the gateway (RFC 3442,
 * as the reference).  NULL with *why set when the ACK has no usable mask.
 */
char *dhcp_result_json(const struct dhcp_msg *ack, const char **why);

#endif
