/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dhcp daemon`: keeps every container's DHCP lease.
 *
 * One process, one thread, one poll loop.  Each lease is a small state
 * machine (SELECTING -> REQUESTING -> BOUND -> RENEWING -> REBINDING, or
 * EXPIRED) driven by its timers and by the replies read from a packet socket
 * that was opened inside the container's netns (through pkg/netns, the only
 * setns() in cnic) and is then used from here for the lease's whole life;
 * a BPF filter lets through only BOOTP replies to the lease's hardware
 * address.  A lease keeps its netns open, so a DEL that comes after the
 * runtime removed the netns can still send DHCPRELEASE.
 *
 * Unlike the reference, leases survive a restart: each bound lease is a
 * JSON file in the state dir (written to a temporary, fsync'ed, renamed),
 * reloaded on start, and renewed from where it was.  The daemon never
 * releases leases on exit: a restart must not take addresses away.
 *
 * Everything read from the socket (a root daemon on a shared socket) and
 * from the network is bounded and validated before use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>
#include <dirent.h>

#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/mac.h"
#include "../../pkg/netns.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/types.h"
#include "internal.h"

#define MAX_CLIENTS 1024
#define MAX_LEASES 65536
#define CLIENT_READ_MS 10000
#define DEFAULT_LEASE_S 3600u
#define INFINITE UINT64_MAX

struct opts {
	const char *pidfile, *hostprefix, *socketpath, *statedir;
	bool broadcast;
	uint64_t timeout_ms, resendmax_ms, resendtimeout_ms;
};

enum lstate {
	L_SELECTING,
	L_REQUESTING,
	L_BOUND,
	L_RENEWING,
	L_REBINDING,
	L_EXPIRED
};
static const char *const state_names[] = { "selecting", "requesting", "bound",
					   "renewing",	"rebinding",  "expired" };

struct client;

struct lease {
	struct lease *next;
	char id[DHCP_CLIENT_ID_MAX + 1];
	char file[40];
	char *cid, *net, *ifname, *netns_path;
	uint64_t ns_dev, ns_ino;
	struct netns *ns;
	uint8_t mac[6];
	int ifindex;
	struct dhcp_client_opts opts;
	enum lstate st;
	int sock;
	uint32_t xid;
	unsigned int tries;
	uint64_t started, next_send, deadline;
	uint64_t t1, t2, exp;
	int64_t bound_real;
	uint32_t lease_s, t1_s, t2_s;
	uint32_t offer_ip, server;
	uint8_t srv_mac[6];
	bool has_srv_mac;
	struct dhcp_msg *ack;
	struct client *waiter;
};

struct client {
	int fd;
	char *buf;
	size_t len;
	uint64_t deadline;
	struct lease *wait; /* answered when this lease is bound or fails */
};

static struct opts O = {
	.socketpath = DHCP_DEFAULT_SOCKET,
	.statedir = DHCP_DEFAULT_STATEDIR,
	.hostprefix = "",
	.timeout_ms = 10000,
	.resendmax_ms = 62000,
	.resendtimeout_ms = 208000,
};
static struct lease *leases;
static size_t n_leases;
static struct client *clients[MAX_CLIENTS];
static size_t n_clients;

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void __attribute__((format(printf, 1, 2))) dlog(const char *fmt, ...)
{
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", localtime_r(&t, &tm));
	fprintf(stderr, "%s ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *ip4(uint32_t a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static uint32_t rand32(void)
{
	uint32_t v;

	cnic_random(&v, sizeof(v));
	return v;
}

/* Go-style durations: "10s", "1m30s", "500ms", "1.5s", "2h". */
static int parse_duration(const char *s, uint64_t *ret_ms)
{
	double total = 0;

	if (!*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v;

		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno || v < 0)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0)
			total += v, s += 2;
		else if (strncmp(s, "us", 2) == 0)
			total += v / 1000, s += 2;
		else if (strncmp(s, "ns", 2) == 0)
			total += v / 1e6, s += 2;
		else if (*s == 's')
			total += v * 1000, s++;
		else if (*s == 'm')
			total += v * 60000, s++;
		else if (*s == 'h')
			total += v * 3600000, s++;
		else
			return -1;
	}
	if (total > 1e12)
		return -1;
	*ret_ms = (uint64_t)total;
	return 0;
}

/* FNV-1a, twice with different bases: a file name for a client ID (which may hold '/'). */
static void lease_file_name(const char *id, char out[40])
{
	uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		a = (a ^ *p) * 0x100000001b3ull;
		b = (b ^ *p) * 0x100000001b3ull;
	}
	snprintf(out, 40, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static void client_id(char out[DHCP_CLIENT_ID_MAX + 1], const char *cid, const char *net,
		      const char *ifname)
{
	/* as the reference: "<cid>/<net>/<ifname>", cut to 254 bytes (RFC 2132 length octet) */
	snprintf(out, DHCP_CLIENT_ID_MAX + 1, "%s/%s/%s", cid, net, ifname);
}

/* ---- state files ------------------------------------------------------ */

static char *hex(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n * 2 + 1);

	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * n] = 0;
	return s;
}

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	*ret_len = n / 2;
	return 0;
}

static int save_lease(const struct lease *l)
{
	struct json_object *o = json_object_new_object(), *prov = json_object_new_array(),
			   *req = json_object_new_array();
	char tmp[PATH_MAX], path[PATH_MAX];
	cleanup_free char *ack = hex(l->ack->raw, l->ack->raw_len), *srv = hex(l->srv_mac, 6);
	const char *s;
	int fd, r = -1;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "clientID", json_object_new_string(l->id));
	json_object_object_add(o, "containerID", json_object_new_string(l->cid));
	json_object_object_add(o, "netName", json_object_new_string(l->net));
	json_object_object_add(o, "ifName", json_object_new_string(l->ifname));
	json_object_object_add(o, "netns", json_object_new_string(l->netns_path));
	json_object_object_add(o, "netnsDev", json_object_new_int64((int64_t)l->ns_dev));
	json_object_object_add(o, "netnsIno", json_object_new_int64((int64_t)l->ns_ino));
	json_object_object_add(o, "boundAt", json_object_new_int64(l->bound_real));
	json_object_object_add(o, "ack", json_object_new_string(ack));
	if (l->has_srv_mac)
		json_object_object_add(o, "serverMAC", json_object_new_string(srv));
	for (size_t i = 0; i < l->opts.n_provide; i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "code", json_object_new_int(l->opts.provide[i].code));
		json_object_object_add(p, "value",
				       json_object_new_string_len((const char *)l->opts.provide[i].val,
								  l->opts.provide[i].len));
		json_object_array_add(prov, p);
	}
	for (size_t i = 0; i < l->opts.n_request; i++)
		json_object_array_add(req, json_object_new_int(l->opts.request[i]));
	json_object_object_add(o, "provide", prov);
	json_object_object_add(o, "request", req);
	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", O.statedir, l->file);
	snprintf(path, sizeof(path), "%s/%s.lease", O.statedir, l->file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		dlog("%s: cannot write %s: %s", l->id, tmp, strerror(errno));
		goto out;
	}
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s) || fsync(fd) < 0) {
		dlog("%s: cannot write %s: %s", l->id, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		dlog("%s: cannot rename %s: %s", l->id, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* the rename itself must survive a crash too */
	fd = open(O.statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	r = 0;
out:
	json_object_put(o);
	return r;
}

static void remove_lease_file(const struct lease *l)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.lease", O.statedir, l->file);
	if (unlink(path) < 0 && errno != ENOENT)
		dlog("%s: cannot remove %s: %s", l->id, path, strerror(errno));
}

/* ---- leases ----------------------------------------------------------- */

static struct lease *find_lease(const char *id)
{
	for (struct lease *l = leases; l; l = l->next)
		if (strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static void close_sock(struct lease *l)
{
	if (l->sock >= 0)
		close(l->sock);
	l->sock = -1;
}

static void free_lease(struct lease *l)
{
	struct lease **pp;

	for (pp = &leases; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			n_leases--;
			break;
		}
	close_sock(l);
	netns_close(l->ns);
	free(l->cid);
	free(l->net);
	free(l->ifname);
	free(l->netns_path);
	free(l->ack);
	free(l);
}

static struct lease *new_lease(const char *id, const char *cid, const char *net, const char *ifname,
			       const char *netns_path)
{
	struct lease *l = xcalloc(1, sizeof(*l));

	snprintf(l->id, sizeof(l->id), "%s", id);
	lease_file_name(id, l->file);
	l->cid = xstrdup(cid);
	l->net = xstrdup(net);
	l->ifname = xstrdup(ifname);
	l->netns_path = xstrdup(netns_path);
	l->sock = -1;
	l->next = leases;
	leases = l;
	n_leases++;
	return l;
}

struct sock_arg {
	int ifindex;
	const uint8_t *mac;
	int fd;
};

/*
 * Only BOOTP replies to our hardware address reach the socket: every
 * sibling's broadcast (macvlan bridge mode floods them to all) would
 * otherwise be queued on every lease's socket, and under load a full queue
 * drops the one ACK that matters.
 */
static int attach_filter(int fd, const uint8_t *mac)
{
	uint32_t m0 = (uint32_t)mac[0] << 24 | (uint32_t)mac[1] << 16 | (uint32_t)mac[2] << 8 |
		      mac[3];
	uint32_t m1 = (uint32_t)mac[4] << 8 | mac[5];
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9), /* IP protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 12),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6), /* fragment offset */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 10, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), /* x = IP header length */
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),	/* UDP destination port */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 0, 7),
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8), /* BOOTP op */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_IND, 8 + 28), /* chaddr[0..3] */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, m0, 0, 3),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 8 + 32), /* chaddr[4..5] */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, m1, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(code), .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* Runs inside the container's netns: the packet socket belongs to it from now on. */
static int open_sock_in_ns(void *arg, struct cni_error **err)
{
	struct sock_arg *a = arg;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = a->ifindex };
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));

	if (fd < 0)
		return cni_error_errno(err, errno, "packet socket");
	if (attach_filter(fd, a->mac) < 0) {
		int e = errno;

		close(fd);
		return cni_error_errno(err, e, "packet socket filter");
	}
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;

		close(fd);
		return cni_error_errno(err, e, "bind packet socket to ifindex %d", a->ifindex);
	}
	a->fd = fd;
	return 0;
}

/* Look the link up (again: it may have been renamed or recreated), bring it up, open the socket. */
static int open_sock(struct lease *l, struct cni_error **err)
{
	struct cnl_link link;
	struct sock_arg a = { 0 };

	if (l->sock >= 0)
		return 0;
	if (cnl_link_get(l->ns, l->ifname, &link, err) < 0)
		return cni_error_wrap(err, "error looking up \"%s\"", l->ifname);
	if (cnl_mac_parse(link.mac, l->mac) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "\"%s\" has no Ethernet address: DHCP needs one", l->ifname);
	/* interface plugins call IPAM before they bring the link up (macvlan does) */
	if (!cnl_link_is_up(&link) && cnl_link_set_up(l->ns, l->ifname, true, err) < 0)
		return -1;
	l->ifindex = link.ifindex;
	a.ifindex = link.ifindex;
	a.mac = l->mac;
	if (netns_run(l->ns, open_sock_in_ns, &a, err) < 0)
		return -1;
	l->sock = a.fd;
	return 0;
}

static uint32_t leased_ip(const struct lease *l)
{
	return l->ack ? l->ack->yiaddr : 0;
}

static int send_msg(struct lease *l, uint8_t type)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t buf[2048];
	struct dhcp_out o = {
		.type = type,
		.xid = l->xid,
		.secs = (uint16_t)((now_ms() - l->started) / 1000 > 65535
					   ? 65535
					   : (now_ms() - l->started) / 1000),
		.broadcast = O.broadcast,
		.chaddr = l->mac,
		.client_id = l->id,
		.opts = &l->opts,
		.ip_dst = INADDR_BROADCAST,
	};
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_IP),
				   .sll_ifindex = l->ifindex,
				   .sll_halen = 6 };
	const uint8_t *dmac = bcast;
	size_t n;

	switch (l->st) {
	case L_REQUESTING:
		if (type == DHCPREQUEST) {
			o.req_ip = l->offer_ip;
			o.server = l->server; /* 0 when rebooting a reloaded lease */
		}
		break;
	case L_RENEWING:
	case L_BOUND:
	case L_REBINDING:
	case L_EXPIRED:
		o.ciaddr = leased_ip(l);
		o.ip_src = leased_ip(l);
		if (l->st == L_RENEWING || type == DHCPRELEASE) {
			/* RFC 2131 4.4.5: renewals and releases go to the server that granted the lease */
			o.ip_dst = l->server;
			if (l->has_srv_mac)
				dmac = l->srv_mac;
		}
		if (type == DHCPRELEASE) {
			o.server = l->server;
			o.opts = NULL;
			o.broadcast = false;
		}
		break;
	default:
		break;
	}
	memcpy(sll.sll_addr, dmac, 6);
	n = dhcp_build(buf, sizeof(buf), &o);
	if (!n)
		return -1;
	if (sendto(l->sock, buf, n, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int e = errno;

		dlog("%s: send on %s: %s", l->id, l->ifname, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* RFC 2131 4.1: about 4 s doubling up to -resendmax, +-1 s; the reference's 4 fast 2 s tries first. */
static uint64_t backoff_ms(unsigned int tries)
{
	uint64_t d;
	int64_t j = (int64_t)(rand32() % 2001) - 1000;

	if (tries <= 4)
		d = 2000;
	else
		d = 4000ull << (tries - 5 > 10 ? 10 : tries - 5);
	if (d > O.resendmax_ms)
		d = O.resendmax_ms;
	d = (uint64_t)((int64_t)d + j < 500 ? 500 : (int64_t)d + j);
	/* -timeout: how long one message waits for its answer */
	if (O.timeout_ms && d > O.timeout_ms)
		d = O.timeout_ms;
	return d;
}

static void reply(struct client *c, const char *json);
static void reply_error(struct client *c, unsigned int code, const char *msg, const char *details);

static void reply_result(struct client *c, const struct lease *l)
{
	const char *why = "";
	cleanup_free char *res = dhcp_result_json(l->ack, &why);
	cleanup_free char *s = NULL;

	if (!res) {
		reply_error(c, CNI_ERR_INTERNAL, why, "");
		return;
	}
	s = xasprintf("{\"result\":%s}", res);
	reply(c, s);
}

static void enter(struct lease *l, enum lstate st, uint64_t now)
{
	l->st = st;
	l->tries = 0;
	l->next_send = now;
	if (st != L_REQUESTING)
		l->xid = rand32();
	if (st == L_SELECTING || st == L_RENEWING || st == L_REBINDING)
		l->started = now;
}

/* Acquisition over, for good or bad: answer the plugin waiting for it. */
static void acquire_failed(struct lease *l, unsigned int code, const char *msg, const char *details)
{
	dlog("%s: %s%s%s", l->id, msg, *details ? ": " : "", details);
	if (l->waiter) {
		l->waiter->wait = NULL;
		reply_error(l->waiter, code, msg, details);
		l->waiter = NULL;
	}
	free_lease(l);
}

static void expire(struct lease *l, const char *why)
{
	cleanup_error struct cni_error *e = NULL;

	dlog("%s: %s, bringing interface %s DOWN", l->id, why, l->ifname);
	close_sock(l);
	l->st = L_EXPIRED;
	remove_lease_file(l);
	if (cnl_link_set_up(l->ns, l->ifname, false, &e) < 0)
		dlog("%s: %s", l->id, e->msg);
}

static void release(struct lease *l)
{
	cleanup_error struct cni_error *e = NULL;
	char a[INET_ADDRSTRLEN];

	if (!l->ack || l->st == L_EXPIRED || !l->server)
		return;
	if (open_sock(l, &e) < 0) {
		dlog("%s: cannot send DHCPRELEASE: %s", l->id, e->msg);
		return;
	}
	if (send_msg(l, DHCPRELEASE) == 0)
		dlog("%s: released %s", l->id, ip4(leased_ip(l), a));
	close_sock(l);
}

static void commit(struct lease *l, struct dhcp_msg *m, const struct sockaddr_ll *from, uint64_t now)
{
	uint32_t v, lease_s = DEFAULT_LEASE_S, t1, t2, server = 0;
	char a[INET_ADDRSTRLEN];

	if (dhcp_opt_u32(m, OPT_LEASE_TIME, &v))
		lease_s = ntohl(v);
	t1 = lease_s / 2;
	t2 = (uint32_t)((uint64_t)lease_s * 85 / 100);
	if (dhcp_opt_u32(m, OPT_RENEWAL_T1, &v))
		t1 = ntohl(v);
	if (dhcp_opt_u32(m, OPT_REBINDING_T2, &v))
		t2 = ntohl(v);
	if (t2 > lease_s)
		t2 = (uint32_t)((uint64_t)lease_s * 85 / 100);
	if (t1 > t2)
		t1 = t2 / 2 ? t2 / 2 : t2;
	if (dhcp_opt_u32(m, OPT_SERVER_ID, &server) && server)
		l->server = server;
	if (from->sll_halen == 6 && !(from->sll_addr[0] & 1)) {
		memcpy(l->srv_mac, from->sll_addr, 6);
		l->has_srv_mac = true;
	}
	if (!l->ack)
		l->ack = xmalloc(sizeof(*l->ack));
	memcpy(l->ack, m, sizeof(*m));
	l->lease_s = lease_s;
	l->t1_s = t1;
	l->t2_s = t2;
	l->bound_real = time(NULL);
	if (lease_s == UINT32_MAX) {
		l->t1 = l->t2 = l->exp = INFINITE;
	} else {
		l->t1 = now + (uint64_t)t1 * 1000;
		l->t2 = now + (uint64_t)t2 * 1000;
		l->exp = now + (uint64_t)lease_s * 1000;
	}
	/*
	 * The socket stays open while the lease lives: its filter passes
	 * nothing but our replies, and renewing then costs one sendto()
	 * instead of netlink look-ups that queue behind the RTNL lock when
	 * many containers start at once.
	 */
	l->st = L_BOUND;
	save_lease(l);
	dlog("%s: lease %s bound, %us (renew in %us, rebind in %us)", l->id, ip4(m->yiaddr, a),
	     lease_s, t1, t2);
}

static void on_packet(struct lease *l, struct dhcp_msg *m, const struct sockaddr_ll *from,
		      uint64_t now)
{
	char a[INET_ADDRSTRLEN];

	if (m->xid != l->xid || memcmp(m->chaddr, l->mac, 6) != 0)
		return;
	switch (l->st) {
	case L_SELECTING:
		if (m->type != DHCPOFFER || !m->yiaddr)
			return;
		l->offer_ip = m->yiaddr;
		if (!dhcp_opt_u32(m, OPT_SERVER_ID, &l->server))
			l->server = m->siaddr;
		dlog("%s: offered %s", l->id, ip4(m->yiaddr, a));
		l->st = L_REQUESTING;
		l->tries = 0;
		l->next_send = now;
		return;
	case L_REQUESTING:
	case L_RENEWING:
	case L_REBINDING:
		if (m->type == DHCPNAK) {
			if (l->st == L_REQUESTING) {
				dlog("%s: DHCPNAK, starting over", l->id);
				enter(l, L_SELECTING, now);
			} else {
				expire(l, "DHCPNAK on renewal: the address is gone");
			}
			return;
		}
		if (m->type != DHCPACK || !m->yiaddr)
			return;
		if (l->st != L_REQUESTING && m->yiaddr != leased_ip(l))
			return; /* a renewal never moves the address */
		{
			const char *why = "";
			char *res = dhcp_result_json(m, &why);

			if (!res) {
				if (l->st == L_REQUESTING)
					acquire_failed(l, CNI_ERR_INTERNAL, why, "");
				else
					dlog("%s: %s, ignored", l->id, why);
				return;
			}
			free(res);
		}
		{
			bool first = l->st == L_REQUESTING;

			commit(l, m, from, now);
			if (first && l->waiter) {
				struct client *c = l->waiter;

				l->waiter = NULL;
				c->wait = NULL;
				reply_result(c, l);
			}
		}
		return;
	default:
		return;
	}
}

static void lease_rx(struct lease *l, uint64_t now)
{
	static struct dhcp_msg m;
	uint8_t buf[2048];

	for (int i = 0; i < 64 && l->sock >= 0; i++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(l->sock, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (dhcp_parse_ip(buf, (size_t)n, &m) < 0)
			continue;
		on_packet(l, &m, &from, now);
		/* the lease may be gone now (acquire_failed): the caller re-scans */
		return;
	}
}

/* Did the runtime remove the netns (path gone or another netns there)? */
static bool netns_replaced(const struct lease *l)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", O.hostprefix, l->netns_path);
	if (stat(path, &st) < 0)
		return errno == ENOENT;
	return (uint64_t)st.st_dev != l->ns_dev || (uint64_t)st.st_ino != l->ns_ino;
}

/* Timers; returns false when the lease was freed. */
static bool lease_tick(struct lease *l, uint64_t now)
{
	cleanup_error struct cni_error *e = NULL;
	char a[INET_ADDRSTRLEN];

	switch (l->st) {
	case L_SELECTING:
	case L_REQUESTING:
		if (now >= l->deadline) {
			cleanup_free char *msg =
				xasprintf("no DHCP server answered on %s within %llu ms", l->ifname,
					  (unsigned long long)O.resendtimeout_ms);
			cleanup_free char *det =
				xasprintf("%u %s sent, client ID \"%s\"", l->tries,
					  l->st == L_SELECTING ? "DHCPDISCOVER" : "DHCPREQUEST",
					  l->id);

			if (l->ack) {
				expire(l, "lease could not be confirmed after the restart");
				return true;
			}
			acquire_failed(l, CNI_ERR_TRY_AGAIN, msg, det);
			return false;
		}
		break;
	case L_BOUND:
		if (now < l->t1)
			return true;
		if (netns_replaced(l)) {
			dlog("%s: netns %s is gone without a DEL: releasing", l->id, l->netns_path);
			release(l);
			remove_lease_file(l);
			free_lease(l);
			return false;
		}
		dlog("%s: renewing lease %s", l->id, ip4(leased_ip(l), a));
		enter(l, L_RENEWING, now);
		break;
	case L_RENEWING:
		if (now >= l->t2) {
			dlog("%s: renewal time expired, rebinding", l->id);
			enter(l, L_REBINDING, now);
		}
		break;
	case L_REBINDING:
		if (now >= l->exp) {
			expire(l, "lease expired");
			return true;
		}
		break;
	case L_EXPIRED:
		return true;
	}
	if (now < l->next_send)
		return true;
	if (open_sock(l, &e) < 0) {
		if (cnl_not_found(e) || netns_stranded()) {
			/* as the reference: the interface is gone, so is the lease */
			dlog("%s: %s: dropping the lease", l->id, e->msg);
			if (l->st == L_SELECTING || l->st == L_REQUESTING) {
				acquire_failed(l, e->code, e->msg, e->details ? e->details : "");
				return false;
			}
			remove_lease_file(l);
			free_lease(l);
			return false;
		}
		dlog("%s: %s", l->id, e->msg);
		l->next_send = now + backoff_ms(++l->tries);
		return true;
	}
	if (send_msg(l, l->st == L_SELECTING ? DHCPDISCOVER : DHCPREQUEST) < 0 &&
	    (errno == ENXIO || errno == ENODEV || errno == ENETDOWN)) {
		/* the interface went away (or down): look it up again right now */
		close_sock(l);
		l->next_send = now;
		return true;
	}
	l->next_send = now + backoff_ms(++l->tries);
	return true;
}

static uint64_t lease_wake(const struct lease *l)
{
	switch (l->st) {
	case L_SELECTING:
	case L_REQUESTING:
		return l->next_send < l->deadline ? l->next_send : l->deadline;
	case L_BOUND:
		return l->t1;
	case L_RENEWING:
		return l->next_send < l->t2 ? l->next_send : l->t2;
	case L_REBINDING:
		return l->next_send < l->exp ? l->next_send : l->exp;
	default:
		return INFINITE;
	}
}

/* ---- reloading -------------------------------------------------------- */

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool jint(struct json_object *o, const char *k, int64_t *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*ret = json_object_get_int64(v);
	return true;
}

static int parse_opts(struct json_object *prov, struct json_object *req, struct dhcp_client_opts *o,
		      const char **why);

static void load_one(const char *name)
{
	char path[PATH_MAX], nspath[PATH_MAX], id[DHCP_CLIENT_ID_MAX + 1], a[INET_ADDRSTRLEN];
	cleanup_free char *buf = xmalloc(DHCP_MAX_MSG + 1);
	cleanup_error struct cni_error *e = NULL;
	struct json_object *o = NULL, *prov = NULL, *req = NULL;
	const char *cid, *net, *ifn, *ns, *ack, *srv, *why = "malformed";
	int64_t dev, ino, bound;
	struct lease *l = NULL;
	struct dhcp_msg *m = NULL;
	struct stat st;
	ssize_t n;
	int fd;
	uint64_t now = now_ms();
	int64_t el;

	snprintf(path, sizeof(path), "%s/%s", O.statedir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, DHCP_MAX_MSG);
	close(fd);
	if (n <= 0 || n == DHCP_MAX_MSG)
		goto bad;
	buf[n] = 0;
	{
		struct json_tokener *t = json_tokener_new_ex(8);

		o = json_tokener_parse_ex(t, buf, (int)n);
		json_tokener_free(t);
	}
	if (!o || !json_object_is_type(o, json_type_object))
		goto bad;
	cid = jstr(o, "containerID");
	net = jstr(o, "netName");
	ifn = jstr(o, "ifName");
	ns = jstr(o, "netns");
	ack = jstr(o, "ack");
	srv = jstr(o, "serverMAC");
	if (!cid || !net || !ifn || !ns || !ack || !cni_valid_container_id(cid) ||
	    !cni_valid_network_name(net) || !cni_valid_ifname(ifn) || ns[0] != '/' ||
	    !jint(o, "netnsDev", &dev) || !jint(o, "netnsIno", &ino) || !jint(o, "boundAt", &bound))
		goto bad;
	client_id(id, cid, net, ifn);
	{
		char f[40];

		lease_file_name(id, f);
		if (strncmp(name, f, 32) != 0 || strcmp(name + 32, ".lease") != 0)
			goto bad;
	}
	m = xmalloc(sizeof(*m));
	{
		uint8_t raw[1500];
		size_t rl;

		if (unhex(ack, raw, sizeof(raw), &rl) < 0 || dhcp_parse_bootp(raw, rl, m) < 0 ||
		    m->type != DHCPACK || !m->yiaddr)
			goto bad;
	}
	json_object_object_get_ex(o, "provide", &prov);
	json_object_object_get_ex(o, "request", &req);
	if (parse_opts(prov, req, &(struct dhcp_client_opts){ 0 }, &why) < 0)
		goto bad;

	snprintf(nspath, sizeof(nspath), "%s%s", O.hostprefix, ns);
	if (stat(nspath, &st) < 0 || (int64_t)st.st_dev != dev || (int64_t)st.st_ino != ino) {
		dlog("%s: netns %s is gone: dropping lease %s", id, ns, ip4(m->yiaddr, a));
		unlink(path);
		goto out;
	}
	l = new_lease(id, cid, net, ifn, ns);
	parse_opts(prov, req, &l->opts, &why);
	l->ns_dev = (uint64_t)dev;
	l->ns_ino = (uint64_t)ino;
	if (srv) {
		size_t sl;

		l->has_srv_mac = unhex(srv, l->srv_mac, 6, &sl) == 0 && sl == 6;
	}
	if (netns_open(nspath, &l->ns, &e) < 0) {
		dlog("%s: %s: dropping lease", id, e->msg);
		unlink(path);
		free_lease(l);
		goto out;
	}
	{
		struct cnl_link link;

		if (cnl_link_get(l->ns, ifn, &link, &e) < 0 ||
		    cnl_mac_parse(link.mac, l->mac) < 0 || memcmp(l->mac, m->chaddr, 6) != 0) {
			dlog("%s: interface %s is gone or changed: dropping lease", id, ifn);
			unlink(path);
			free_lease(l);
			goto out;
		}
		l->ifindex = link.ifindex;
	}
	l->ack = TAKE_PTR(m);
	if (!dhcp_opt_u32(l->ack, OPT_SERVER_ID, &l->server))
		l->server = l->ack->siaddr;
	l->bound_real = bound;
	{
		uint32_t v, lease_s = DEFAULT_LEASE_S, t1, t2;

		if (dhcp_opt_u32(l->ack, OPT_LEASE_TIME, &v))
			lease_s = ntohl(v);
		t1 = lease_s / 2;
		t2 = (uint32_t)((uint64_t)lease_s * 85 / 100);
		if (dhcp_opt_u32(l->ack, OPT_RENEWAL_T1, &v) && ntohl(v) <= t2)
			t1 = ntohl(v);
		if (dhcp_opt_u32(l->ack, OPT_REBINDING_T2, &v) && ntohl(v) <= lease_s &&
		    ntohl(v) >= t1)
			t2 = ntohl(v);
		l->lease_s = lease_s;
		l->t1_s = t1;
		l->t2_s = t2;
		el = (int64_t)time(NULL) - bound;
		if (el < 0)
			el = 0;
		if (lease_s == UINT32_MAX) {
			l->t1 = l->t2 = l->exp = INFINITE;
			l->st = L_BOUND;
		} else if (el < (int64_t)lease_s) {
			l->t1 = now + (uint64_t)((int64_t)t1 - el > 0 ? (int64_t)t1 - el : 0) * 1000;
			l->t2 = now + (uint64_t)((int64_t)t2 - el > 0 ? (int64_t)t2 - el : 0) * 1000;
			l->exp = now + (uint64_t)((int64_t)lease_s - el) * 1000;
			l->st = L_BOUND;
		} else {
			/* expired while we were down: ask for the same address again (INIT-REBOOT) */
			l->offer_ip = l->ack->yiaddr;
			l->server = 0;
			l->st = L_REQUESTING;
			l->xid = rand32();
			l->started = l->next_send = now;
			l->deadline = now + O.resendtimeout_ms;
		}
	}
	dlog("%s: reloaded lease %s on %s (%s, renew in %llds)", id, ip4(l->ack->yiaddr, a), ifn,
	     state_names[l->st],
	     (long long)(l->t1 == INFINITE ? -1
			 : l->t1 > now	   ? (long long)(l->t1 - now) / 1000
					   : 0));
	goto out;
bad:
	dlog("ignoring state file %s: %s", path, why);
out:
	free(m);
	if (o)
		json_object_put(o);
}

static void load_leases(void)
{
	DIR *d = opendir(O.statedir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) && n_leases < MAX_LEASES) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.') {
			/* a temporary left by a crash mid-write: the renamed file (if any) is whole */
			if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (n == 38 && strcmp(de->d_name + 32, ".lease") == 0)
			load_one(de->d_name);
	}
	closedir(d);
}

/* ---- requests --------------------------------------------------------- */

static void client_free(struct client *c)
{
	for (size_t i = 0; i < n_clients; i++)
		if (clients[i] == c) {
			clients[i] = clients[--n_clients];
			break;
		}
	if (c->wait && c->wait->waiter == c)
		c->wait->waiter = NULL;
	close(c->fd);
	free(c->buf);
	free(c);
}

static void reply(struct client *c, const char *json)
{
	size_t n = strlen(json), off = 0;

	/* answers are small: a blocking-free send of the whole, bounded tries */
	for (int i = 0; i < 100 && off < n; i++) {
		ssize_t w = send(c->fd, json + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			off += (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };

			poll(&p, 1, 10);
		} else if (w < 0 && errno != EINTR) {
			break;
		}
	}
	client_free(c);
}

static void reply_error(struct client *c, unsigned int code, const char *msg, const char *details)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int((int)code));
	json_object_object_add(e, "msg", json_object_new_string(msg));
	if (details && *details)
		json_object_object_add(e, "details", json_object_new_string(details));
	json_object_object_add(o, "error", e);
	reply(c, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void reply_cni_error(struct client *c, struct cni_error *e)
{
	reply_error(c, e->code, e->msg, e->details ? e->details : "");
}

static int parse_opts(struct json_object *prov, struct json_object *req, struct dhcp_client_opts *o,
		      const char **why)
{
	memset(o, 0, sizeof(*o));
	if (prov) {
		if (!json_object_is_type(prov, json_type_array) ||
		    json_object_array_length(prov) > DHCP_MAX_PROVIDE)
			return *why = "provide: expected an array of at most 64 options", -1;
		for (size_t i = 0; i < json_object_array_length(prov); i++) {
			struct json_object *p = json_object_array_get_idx(prov, i), *code, *val;
			int64_t c;

			if (!json_object_is_type(p, json_type_object) ||
			    !json_object_object_get_ex(p, "code", &code) ||
			    !json_object_is_type(code, json_type_int) ||
			    !json_object_object_get_ex(p, "value", &val) ||
			    !json_object_is_type(val, json_type_string))
				return *why = "provide: expected {code, value}", -1;
			c = json_object_get_int64(code);
			if (c < 1 || c > 254 || c == OPT_MSG_TYPE ||
			    json_object_get_string_len(val) > 255)
				return *why = "provide: option code out of range or value longer than 255 bytes",
				       -1;
			o->provide[o->n_provide].code = (uint8_t)c;
			o->provide[o->n_provide].len = (uint8_t)json_object_get_string_len(val);
			memcpy(o->provide[o->n_provide].val, json_object_get_string(val),
			       (size_t)json_object_get_string_len(val));
			o->n_provide++;
		}
	}
	if (req) {
		if (!json_object_is_type(req, json_type_array) || json_object_array_length(req) > 254)
			return *why = "request: expected an array of at most 254 codes", -1;
		for (size_t i = 0; i < json_object_array_length(req); i++) {
			struct json_object *v = json_object_array_get_idx(req, i);
			int64_t c;

			if (!json_object_is_type(v, json_type_int))
				return *why = "request: expected integers", -1;
			c = json_object_get_int64(v);
			if (c < 1 || c > 254)
				return *why = "request: option code out of range", -1;
			if (!memchr(o->request, (int)c, o->n_request))
				o->request[o->n_request++] = (uint8_t)c;
		}
	}
	return 0;
}

static bool lease_live(const struct lease *l)
{
	return l->st == L_BOUND || l->st == L_RENEWING || l->st == L_REBINDING;
}

static void do_check(struct client *c, struct lease *l, const char *netns)
{
	cleanup_error struct cni_error *e = NULL;
	struct cnl_addrs addrs = { 0 };
	struct cnl_link link;
	char path[PATH_MAX], a[INET_ADDRSTRLEN];
	struct stat st;
	bool found = false;

	if (!lease_live(l)) {
		cleanup_free char *m = xasprintf("DHCP lease for \"%s\" is not live (%s)", l->id,
						 state_names[l->st]);

		reply_error(c, CNI_ERR_INTERNAL, m, "");
		return;
	}
	snprintf(path, sizeof(path), "%s%s", O.hostprefix, netns);
	if (stat(path, &st) < 0 || (uint64_t)st.st_dev != l->ns_dev ||
	    (uint64_t)st.st_ino != l->ns_ino) {
		cleanup_free char *m =
			xasprintf("DHCP lease for \"%s\" was acquired in another netns (%s)", l->id,
				  l->netns_path);

		reply_error(c, CNI_ERR_INTERNAL, m, "");
		return;
	}
	if (cnl_link_get(l->ns, l->ifname, &link, &e) < 0 ||
	    cnl_addr_list(l->ns, link.ifindex, AF_INET, &addrs, &e) < 0) {
		reply_cni_error(c, e);
		cnl_addrs_free(&addrs);
		return;
	}
	for (size_t i = 0; i < addrs.n; i++)
		if (memcmp(addrs.v[i].addr.addr.b, &l->ack->yiaddr, 4) == 0)
			found = true;
	cnl_addrs_free(&addrs);
	if (!found) {
		cleanup_free char *m = xasprintf("DHCP lease address %s is not on interface %s",
						 ip4(l->ack->yiaddr, a), l->ifname);

		reply_error(c, CNI_ERR_INTERNAL, m, "");
		return;
	}
	reply(c, "{\"result\":{}}");
}

static void do_add(struct client *c, const char *id, const char *cid, const char *net,
		   const char *ifn, const char *netns, struct dhcp_client_opts *opts)
{
	cleanup_error struct cni_error *e = NULL;
	struct lease *l = find_lease(id);
	char path[PATH_MAX];
	struct stat st;
	uint64_t now = now_ms();

	snprintf(path, sizeof(path), "%s%s", O.hostprefix, netns);
	if (l && stat(path, &st) == 0 && (uint64_t)st.st_dev == l->ns_dev &&
	    (uint64_t)st.st_ino == l->ns_ino) {
		if (lease_live(l)) {
			reply_result(c, l);
			return;
		}
		if (l->st != L_EXPIRED) {
			if (l->waiter)
				return reply_error(c, CNI_ERR_TRY_AGAIN,
						   "a DHCP lease for this attachment is being acquired",
						   id);
			l->waiter = c;
			c->wait = l;
			return;
		}
	}
	if (l) {
		/* an old lease of the same attachment in another (or no) netns: it is stale */
		release(l);
		remove_lease_file(l);
		free_lease(l);
	}
	if (n_leases >= MAX_LEASES)
		return reply_error(c, CNI_ERR_TRY_AGAIN, "too many DHCP leases", "");
	l = new_lease(id, cid, net, ifn, netns);
	l->opts = *opts;
	if (netns_open(path, &l->ns, &e) < 0 || netns_check_fd(l->ns->fd, path, &e) < 0) {
		free_lease(l);
		return reply_cni_error(c, e);
	}
	if (fstat(l->ns->fd, &st) == 0) {
		l->ns_dev = (uint64_t)st.st_dev;
		l->ns_ino = (uint64_t)st.st_ino;
	}
	enter(l, L_SELECTING, now);
	l->deadline = now + O.resendtimeout_ms;
	l->waiter = c;
	c->wait = l;
	dlog("%s: acquiring lease on %s in %s", id, ifn, netns);
	lease_tick(l, now);
}

static void handle_request(struct client *c)
{
	struct json_object *o = NULL, *prov = NULL, *req = NULL;
	struct json_tokener *t;
	const char *cmd, *cid, *net, *ifn, *ns, *why = "";
	char id[DHCP_CLIENT_ID_MAX + 1];
	struct dhcp_client_opts opts;
	struct lease *l;

	t = json_tokener_new_ex(8);
	o = json_tokener_parse_ex(t, c->buf, (int)c->len);
	if (!o || json_tokener_get_error(t) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(t) != c->len ||
	    !json_object_is_type(o, json_type_object)) {
		json_tokener_free(t);
		if (o)
			json_object_put(o);
		return reply_error(c, CNI_ERR_DECODE, "DHCP daemon: request is not a JSON object",
				   "");
	}
	json_tokener_free(t);
	cmd = jstr(o, "cmd");
	cid = jstr(o, "containerID");
	net = jstr(o, "netName");
	ifn = jstr(o, "ifName");
	ns = jstr(o, "netns");
	json_object_object_get_ex(o, "provide", &prov);
	json_object_object_get_ex(o, "request", &req);
	if (!cmd || (strcmp(cmd, "add") && strcmp(cmd, "del") && strcmp(cmd, "check"))) {
		reply_error(c, CNI_ERR_DECODE, "DHCP daemon: unknown command", "");
	} else if (!cid || !cni_valid_container_id(cid)) {
		reply_error(c, CNI_ERR_INVALID_ENV, "DHCP daemon: invalid containerID", "");
	} else if (!net || !cni_valid_network_name(net)) {
		reply_error(c, CNI_ERR_INVALID_CONFIG, "DHCP daemon: invalid netName", "");
	} else if (!ifn || !cni_valid_ifname(ifn)) {
		reply_error(c, CNI_ERR_INVALID_ENV, "DHCP daemon: invalid ifName", "");
	} else if (!ns ||
		   (*ns && (ns[0] != '/' || strlen(ns) >= PATH_MAX - strlen(O.hostprefix) - 1)) ||
		   (!*ns && strcmp(cmd, "del") != 0)) {
		reply_error(c, CNI_ERR_INVALID_ENV, "DHCP daemon: netns must be an absolute path",
			    "");
	} else if (parse_opts(prov, req, &opts, &why) < 0) {
		reply_error(c, CNI_ERR_INVALID_CONFIG, "DHCP daemon: invalid options", why);
	} else {
		client_id(id, cid, net, ifn);
		l = find_lease(id);
		if (strcmp(cmd, "add") == 0) {
			do_add(c, id, cid, net, ifn, ns, &opts);
		} else if (strcmp(cmd, "check") == 0) {
			if (!l) {
				cleanup_free char *m = xasprintf("no DHCP lease for \"%s\"", id);

				reply_error(c, CNI_ERR_INTERNAL, m, "");
			} else {
				do_check(c, l, ns);
			}
		} else {
			if (l) {
				if (l->waiter) {
					struct client *w = l->waiter;

					l->waiter = NULL;
					w->wait = NULL;
					reply_error(w, CNI_ERR_TRY_AGAIN,
						    "DHCP lease acquisition cancelled by DEL", id);
				}
				release(l);
				remove_lease_file(l);
				free_lease(l);
			}
			reply(c, "{\"result\":{}}");
		}
	}
	json_object_put(o);
}

static void client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, DHCP_MAX_MSG - c->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_free(c);
		return;
	}
	if (n == 0) {
		c->buf[c->len] = 0;
		c->deadline = INFINITE;
		handle_request(c);
		return;
	}
	c->len += (size_t)n;
	if (c->len == DHCP_MAX_MSG)
		reply_error(c, CNI_ERR_DECODE, "DHCP daemon: request too large", "");
}

/* ---- setup ------------------------------------------------------------ */

static int usage(const char *why)
{
	fprintf(stderr,
		"dhcp daemon: %s\n"
		"usage: dhcp daemon [-socketpath PATH] [-pidfile PATH] [-hostprefix PREFIX] [-broadcast]\n"
		"                   [-timeout DUR] [-resendmax DUR] [-resendtimeout DUR] [-statedir DIR]\n",
		why);
	return 2;
}

static int parse_flags(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char name[32];
		const char *eq;

		if (a[0] != '-')
			return usage("unexpected argument");
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
		if (strcmp(name, "broadcast") == 0) {
			O.broadcast = !eq || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0;
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return usage("flag needs an argument");
		if (strcmp(name, "pidfile") == 0)
			O.pidfile = val;
		else if (strcmp(name, "hostprefix") == 0)
			O.hostprefix = val;
		else if (strcmp(name, "socketpath") == 0)
			O.socketpath = *val ? val : DHCP_DEFAULT_SOCKET;
		else if (strcmp(name, "statedir") == 0)
			O.statedir = val;
		else if (strcmp(name, "timeout") == 0) {
			if (parse_duration(val, &O.timeout_ms) < 0)
				return usage("invalid -timeout");
		} else if (strcmp(name, "resendmax") == 0) {
			if (parse_duration(val, &O.resendmax_ms) < 0)
				return usage("invalid -resendmax");
		} else if (strcmp(name, "resendtimeout") == 0) {
			if (parse_duration(val, &O.resendtimeout_ms) < 0)
				return usage("invalid -resendtimeout");
		} else
			return usage("unknown flag");
	}
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int get_listener(bool *activated)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX], dir[PATH_MAX], *slash;
	int fd;

	*activated = false;
	if (pid && fds && strtol(pid, NULL, 10) == getpid()) {
		long n = strtol(fds, NULL, 10);

		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		if (n > 1) {
			dlog("Error getting listener: Too many (%ld) FDs passed through socket activation",
			     n);
			return -1;
		}
		if (n == 1) {
			fd = 3; /* SD_LISTEN_FDS_START */
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			*activated = true;
			return fd;
		}
	}
	snprintf(path, sizeof(path), "%s%s", O.hostprefix, O.socketpath);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		dlog("Error getting listener: socket path %s too long", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir_p(dir, 0700) < 0) {
			dlog("Error getting listener: mkdir %s: %s", dir, strerror(errno));
			return -1;
		}
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	{
		/* a live daemon answers connect(); only a stale socket file is removed */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			dlog("Error getting listener: another daemon is listening on %s", path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 256) < 0) {
		dlog("Error getting listener: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int dhcp_daemon_main(int argc, char **argv)
{
	struct pollfd *pfd = NULL;
	struct lease **pl = NULL;
	bool activated = false;
	sigset_t mask;
	int lfd, sfd, r;

	if ((r = parse_flags(argc, argv)) != 0)
		return r;
	if (O.pidfile && O.pidfile[0] != '/') {
		dlog("Error writing pidfile \"%s\": path not absolute", O.pidfile);
		return 1;
	}
	if (mkdir_p(O.statedir, 0700) < 0) {
		dlog("cannot create state dir %s: %s", O.statedir, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	/* leases first, so no plugin is answered before the old leases are known */
	load_leases();
	lfd = get_listener(&activated);
	if (lfd < 0)
		return 1;
	if (O.pidfile) {
		FILE *f = fopen(O.pidfile, "we");

		if (!f || fprintf(f, "%d", getpid()) < 0 || fclose(f) != 0) {
			dlog("Error writing pidfile \"%s\": %s", O.pidfile, strerror(errno));
			return 1;
		}
	}
	dlog("dhcp daemon listening on %s%s (%zu leases reloaded)",
	     activated ? "an activated socket" : O.hostprefix, activated ? "" : O.socketpath,
	     n_leases);

	for (;;) {
		uint64_t now = now_ms(), wake = INFINITE;
		size_t n = 0, nl = 0, ncb;
		int timeout;

		/* timers first: they may free leases and answer clients */
		for (struct lease *l = leases, *next; l; l = next) {
			next = l->next;
			if (!lease_tick(l, now))
				next = leases; /* restart: the list changed */
		}
		for (size_t i = 0; i < n_clients;) {
			if (clients[i]->deadline <= now) {
				client_free(clients[i]);
				continue;
			}
			i++;
		}
		now = now_ms();
		pfd = xrealloc(pfd, (2 + n_clients + n_leases) * sizeof(*pfd));
		pl = xrealloc(pl, (n_leases + 1) * sizeof(*pl));
		ncb = n_clients; /* answering a client shrinks clients[]: index pfd by this */
		pfd[n++] =
			(struct pollfd){ .fd = lfd, .events = n_clients < MAX_CLIENTS ? POLLIN : 0 };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (size_t i = 0; i < n_clients; i++) {
			struct client *c = clients[i];

			pfd[n++] = (struct pollfd){ .fd = c->fd,
						    .events = c->wait || c->deadline == INFINITE
								      ? 0
								      : POLLIN };
			if (c->deadline < wake)
				wake = c->deadline;
		}
		for (struct lease *l = leases; l; l = l->next) {
			uint64_t w = lease_wake(l);

			if (w < wake)
				wake = w;
			if (l->sock >= 0) {
				pl[nl++] = l;
				pfd[n++] = (struct pollfd){ .fd = l->sock, .events = POLLIN };
			}
		}
		timeout = wake == INFINITE     ? -1
			  : wake <= now	       ? 0
			  : wake - now > 60000 ? 60000
					       : (int)(wake - now);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
			dlog("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				dlog("signal %u: exiting, leases kept in %s", si.ssi_signo,
				     O.statedir);
				break;
			}
		}
		now = now_ms();
		/* lease sockets: check each lease is still there (a reply may free others) */
		for (size_t i = 0; i < nl; i++) {
			bool alive = false;

			if (!(pfd[2 + ncb + i].revents))
				continue;
			for (struct lease *l = leases; l; l = l->next)
				if (l == pl[i])
					alive = true;
			if (alive && pl[i]->sock == pfd[2 + ncb + i].fd)
				lease_rx(pl[i], now);
		}
		/* clients: by fd, since answering removes them from the array */
		{
			size_t nc = ncb;
			int *fds = xcalloc(nc + 1, sizeof(int));
			short *rev = xcalloc(nc + 1, sizeof(short));

			for (size_t i = 0; i < nc; i++) {
				fds[i] = pfd[2 + i].fd;
				rev[i] = pfd[2 + i].revents;
			}
			for (size_t i = 0; i < nc; i++) {
				struct client *c = NULL;

				if (!rev[i])
					continue;
				for (size_t k = 0; k < n_clients; k++)
					if (clients[k]->fd == fds[i])
						c = clients[k];
				if (!c)
					continue;
				if (c->wait || c->deadline == INFINITE) {
					if (rev[i] & (POLLHUP | POLLERR))
						client_free(c); /* the plugin gave up; the lease goes on */
					continue;
				}
				client_read(c);
			}
			free(fds);
			free(rev);
		}
		if (pfd[0].revents & POLLIN) {
			for (int i = 0; i < 64 && n_clients < MAX_CLIENTS; i++) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct client *c;

				if (fd < 0)
					break;
				c = xcalloc(1, sizeof(*c));
				c->fd = fd;
				c->buf = xmalloc(DHCP_MAX_MSG + 1);
				c->deadline = now_ms() + CLIENT_READ_MS;
				clients[n_clients++] = c;
			}
		}
	}
	while (n_clients)
		client_free(clients[0]);
	while (leases)
		free_lease(leases);
	free(pfd);
	free(pl);
	if (!activated) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s%s", O.hostprefix, O.socketpath);
		unlink(path);
	}
	if (O.pidfile)
		unlink(O.pidfile);
	close(lfd);
	return 0;
}
