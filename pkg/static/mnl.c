/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of the libmnl API that libnftnl and cnic use, for the static
 * plugin binaries only (see the Makefile's STATIC block): Debian ships
 * libnftnl.a but no libmnl.a, and linking libmnl.so would make every
 * binary that can touch nftables (bridge, ptp, portmap) dynamic, paying
 * the dynamic loader on every CNI call.
 *
 * Written against the public contract in <libmnl/libmnl.h> and the netlink
 * wire format of <linux/netlink.h>, not derived from libmnl's sources.
 * It behaves as libmnl 1.0.4 does wherever a correct caller can tell
 * (test/unit/test_mnl.c runs the same assertions over both, as
 * build/unit/test_mnl and build/unit/test_mnl_static).  Only where libmnl
 * would read or write past what it was given is this stricter: a nested
 * attribute shorter than its header is not walked, every walk stays inside
 * the length given, mnl_attr_put_check leaves room for the padding, and the
 * padding after a payload is zeroed.  Dynamic builds (STATIC=0, sanitizers,
 * valgrind) link the real libmnl, so the suites run the plugins over both.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

/* ---- sockets ------------------------------------------------------------ */

struct mnl_socket {
	int fd;
	struct sockaddr_nl addr; /* as bound: our port id */
};

struct mnl_socket *mnl_socket_open2(int bus, int flags)
{
	struct mnl_socket *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | flags, bus);
	if (nl->fd < 0) {
		int e = errno;
		free(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

struct mnl_socket *mnl_socket_open(int bus)
{
	return mnl_socket_open2(bus, 0);
}

int mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	socklen_t len = sizeof(nl->addr);

	memset(&nl->addr, 0, sizeof(nl->addr));
	nl->addr.nl_family = AF_NETLINK;
	nl->addr.nl_groups = groups;
	nl->addr.nl_pid = (uint32_t)pid;
	if (bind(nl->fd, (struct sockaddr *)&nl->addr, sizeof(nl->addr)) < 0)
		return -1;
	/* The kernel picks the port id when asked for MNL_SOCKET_AUTOPID (0). */
	if (getsockname(nl->fd, (struct sockaddr *)&nl->addr, &len) < 0)
		return -1;
	if (len != sizeof(nl->addr) || nl->addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return nl->fd;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *nl)
{
	return nl->addr.nl_pid;
}

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t size)
{
	static const struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	return sendto(nl->fd, req, size, 0, (const struct sockaddr *)&kernel, sizeof(kernel));
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t bufsiz)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = bufsiz };
	struct msghdr msg = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t r = recvmsg(nl->fd, &msg, 0);

	if (r < 0)
		return r;
	if (msg.msg_flags & MSG_TRUNC) {
		errno = ENOSPC; /* the buffer is too small for this message */
		return -1;
	}
	if (msg.msg_namelen != sizeof(from)) {
		errno = EINVAL;
		return -1;
	}
	return r;
}

int mnl_socket_close(struct mnl_socket *nl)
{
	int r = close(nl->fd);

	free(nl);
	return r;
}

int mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len)
{
	return setsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

int mnl_socket_getsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t *len)
{
	return getsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

/* ---- messages ----------------------------------------------------------- */

size_t mnl_nlmsg_size(size_t len)
{
	return len + MNL_NLMSG_HDRLEN;
}

struct nlmsghdr *mnl_nlmsg_put_header(void *buf)
{
	struct nlmsghdr *nlh = buf;

	memset(nlh, 0, MNL_NLMSG_HDRLEN);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
	return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size)
{
	char *p = (char *)nlh + nlh->nlmsg_len;
	size_t len = MNL_ALIGN(size);

	memset(p, 0, len);
	nlh->nlmsg_len += (uint32_t)len;
	return p;
}

size_t mnl_nlmsg_get_payload_len(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
}

void *mnl_nlmsg_get_payload(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN;
}

void *mnl_nlmsg_get_payload_offset(const struct nlmsghdr *nlh, size_t offset)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
}

void *mnl_nlmsg_get_payload_tail(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_ALIGN(nlh->nlmsg_len);
}

bool mnl_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       (int)nlh->nlmsg_len <= len;
}

struct nlmsghdr *mnl_nlmsg_next(const struct nlmsghdr *nlh, int *len)
{
	*len -= (int)MNL_ALIGN(nlh->nlmsg_len);
	return (struct nlmsghdr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
}

/* A zero on either side means "do not check", as the contract says. */
bool mnl_nlmsg_seq_ok(const struct nlmsghdr *nlh, unsigned int seq)
{
	return !nlh->nlmsg_seq || !seq || nlh->nlmsg_seq == seq;
}

bool mnl_nlmsg_portid_ok(const struct nlmsghdr *nlh, unsigned int portid)
{
	return !nlh->nlmsg_pid || !portid || nlh->nlmsg_pid == portid;
}

/* ---- message batches ---------------------------------------------------- */

struct mnl_nlmsg_batch {
	char *buf;
	size_t limit;  /* messages must end within this */
	size_t len;    /* bytes of complete messages */
	bool overflow; /* the message at buf + len did not fit */
};

struct mnl_nlmsg_batch *mnl_nlmsg_batch_start(void *buf, size_t limit)
{
	struct mnl_nlmsg_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->buf = buf;
	b->limit = limit;
	return b;
}

void mnl_nlmsg_batch_stop(struct mnl_nlmsg_batch *b)
{
	free(b);
}

bool mnl_nlmsg_batch_next(struct mnl_nlmsg_batch *b)
{
	const struct nlmsghdr *nlh = (const void *)(b->buf + b->len);

	if (b->len + nlh->nlmsg_len > b->limit) {
		b->overflow = true;
		return false;
	}
	b->len += nlh->nlmsg_len;
	return true;
}

void mnl_nlmsg_batch_reset(struct mnl_nlmsg_batch *b)
{
	if (b->overflow) {
		/* The message that did not fit becomes the first of the next batch. */
		const struct nlmsghdr *nlh = (const void *)(b->buf + b->len);
		size_t len = nlh->nlmsg_len;

		memmove(b->buf, nlh, len);
		b->len = len;
		b->overflow = false;
	} else {
		b->len = 0;
	}
}

size_t mnl_nlmsg_batch_size(struct mnl_nlmsg_batch *b)
{
	return b->len;
}

void *mnl_nlmsg_batch_head(struct mnl_nlmsg_batch *b)
{
	return b->buf;
}

void *mnl_nlmsg_batch_current(struct mnl_nlmsg_batch *b)
{
	return b->buf + b->len;
}

bool mnl_nlmsg_batch_is_empty(struct mnl_nlmsg_batch *b)
{
	return b->len == 0;
}

/* ---- attributes --------------------------------------------------------- */

uint16_t mnl_attr_get_type(const struct nlattr *attr)
{
	return attr->nla_type & NLA_TYPE_MASK;
}

uint16_t mnl_attr_get_len(const struct nlattr *attr)
{
	return attr->nla_len;
}

uint16_t mnl_attr_get_payload_len(const struct nlattr *attr)
{
	return attr->nla_len - MNL_ATTR_HDRLEN;
}

void *mnl_attr_get_payload(const struct nlattr *attr)
{
	return (char *)attr + MNL_ATTR_HDRLEN;
}

bool mnl_attr_ok(const struct nlattr *attr, int len)
{
	return len >= (int)sizeof(*attr) && attr->nla_len >= sizeof(*attr) &&
	       (int)attr->nla_len <= len;
}

struct nlattr *mnl_attr_next(const struct nlattr *attr)
{
	return (struct nlattr *)((char *)attr + MNL_ALIGN(attr->nla_len));
}

int mnl_attr_type_valid(const struct nlattr *attr, uint16_t max)
{
	if (mnl_attr_get_type(attr) > max) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 1;
}

/*
 * The length is checked for every type, as libmnl does: shorter than
 * `want` first, then the type's own rule, then longer than `want` (a
 * fixed-size integer must be exactly its size).
 */
static int validate(const struct nlattr *attr, enum mnl_attr_data_type type, size_t want)
{
	size_t len = mnl_attr_get_payload_len(attr);
	const char *p = mnl_attr_get_payload(attr);

	if (attr->nla_len < MNL_ATTR_HDRLEN || len < want) {
		errno = ERANGE;
		return -1;
	}
	switch (type) {
	case MNL_TYPE_FLAG:
		if (len) {
			errno = ERANGE;
			return -1;
		}
		break;
	case MNL_TYPE_STRING:
		if (!len) {
			errno = ERANGE;
			return -1;
		}
		break;
	case MNL_TYPE_NUL_STRING:
		if (!len) {
			errno = ERANGE;
			return -1;
		}
		if (p[len - 1] != '\0') {
			errno = EINVAL;
			return -1;
		}
		break;
	case MNL_TYPE_NESTED:
		if (len && len < MNL_ATTR_HDRLEN) {
			errno = ERANGE;
			return -1;
		}
		break;
	default:
		break;
	}
	if (want && len > want) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

int mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type)
{
	size_t want = 0;

	switch (type) {
	case MNL_TYPE_U8:
		want = 1;
		break;
	case MNL_TYPE_U16:
		want = 2;
		break;
	case MNL_TYPE_U32:
		want = 4;
		break;
	case MNL_TYPE_U64:
	case MNL_TYPE_MSECS:
		want = 8;
		break;
	case MNL_TYPE_UNSPEC:
	case MNL_TYPE_STRING:
	case MNL_TYPE_FLAG:
	case MNL_TYPE_NESTED:
	case MNL_TYPE_NESTED_COMPAT:
	case MNL_TYPE_NUL_STRING:
	case MNL_TYPE_BINARY:
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	return validate(attr, type, want);
}

int mnl_attr_validate2(const struct nlattr *attr, enum mnl_attr_data_type type, size_t len)
{
	if (type >= MNL_TYPE_MAX) {
		errno = EINVAL;
		return -1;
	}
	return validate(attr, type, len);
}

/*
 * Walk the attributes in [p, p + len), stopping on the first callback result
 * at or below MNL_CB_STOP; otherwise the last callback's result (libmnl
 * passes a positive value other than MNL_CB_OK on to its caller).
 */
static int walk(const char *p, size_t len, mnl_attr_cb_t cb, void *data)
{
	int ilen = (int)len;
	int r = MNL_CB_OK;

	for (const struct nlattr *a = (const void *)p; mnl_attr_ok(a, ilen);) {
		r = cb(a, data);
		if (r <= MNL_CB_STOP)
			return r;
		ilen -= (int)MNL_ALIGN(a->nla_len);
		a = mnl_attr_next(a);
	}
	return r;
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb, void *data)
{
	size_t start = MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);

	if (nlh->nlmsg_len < start)
		return MNL_CB_OK;
	return walk((const char *)nlh + start, nlh->nlmsg_len - start, cb, data);
}

int mnl_attr_parse_nested(const struct nlattr *nested, mnl_attr_cb_t cb, void *data)
{
	if (nested->nla_len < MNL_ATTR_HDRLEN)
		return MNL_CB_OK;
	return walk(mnl_attr_get_payload(nested), mnl_attr_get_payload_len(nested), cb, data);
}

int mnl_attr_parse_payload(const void *payload, size_t len, mnl_attr_cb_t cb, void *data)
{
	return walk(payload, len, cb, data);
}

uint8_t mnl_attr_get_u8(const struct nlattr *attr)
{
	return *(const uint8_t *)mnl_attr_get_payload(attr);
}

uint16_t mnl_attr_get_u16(const struct nlattr *attr)
{
	uint16_t v;

	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint32_t mnl_attr_get_u32(const struct nlattr *attr)
{
	uint32_t v;

	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint64_t mnl_attr_get_u64(const struct nlattr *attr)
{
	uint64_t v;

	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

const char *mnl_attr_get_str(const struct nlattr *attr)
{
	return mnl_attr_get_payload(attr);
}

void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
	struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);
	size_t alen = MNL_ATTR_HDRLEN + len;

	a->nla_type = type;
	a->nla_len = (uint16_t)alen;
	if (len)
		memcpy(mnl_attr_get_payload(a), data, len);
	/* Zero the alignment padding: it goes on the wire. */
	memset((char *)a + alen, 0, MNL_ALIGN(alen) - alen);
	nlh->nlmsg_len = (uint32_t)(MNL_ALIGN(nlh->nlmsg_len) + MNL_ALIGN(alen));
}

void mnl_attr_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void mnl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data), data);
}

void mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data) + 1, data);
}

bool mnl_attr_put_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type, size_t len,
			const void *data)
{
	if (MNL_ALIGN(nlh->nlmsg_len) + MNL_ALIGN(MNL_ATTR_HDRLEN + len) > buflen)
		return false;
	mnl_attr_put(nlh, type, len, data);
	return true;
}

struct nlattr *mnl_attr_nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *start = mnl_nlmsg_get_payload_tail(nlh);

	start->nla_type = NLA_F_NESTED | type;
	start->nla_len = MNL_ATTR_HDRLEN;
	nlh->nlmsg_len = (uint32_t)(MNL_ALIGN(nlh->nlmsg_len) + MNL_ATTR_HDRLEN);
	return start;
}

struct nlattr *mnl_attr_nest_start_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type)
{
	if (MNL_ALIGN(nlh->nlmsg_len) + MNL_ATTR_HDRLEN > buflen)
		return NULL;
	return mnl_attr_nest_start(nlh, type);
}

void mnl_attr_nest_end(struct nlmsghdr *nlh, struct nlattr *start)
{
	start->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

void mnl_attr_nest_cancel(struct nlmsghdr *nlh, struct nlattr *start)
{
	nlh->nlmsg_len -= (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

/* ---- callbacks ---------------------------------------------------------- */

/*
 * The default handling of the control types, for a type the caller's array
 * does not reach: NOOP and OVERRUN answer MNL_CB_OK, DONE stops, ERROR stops
 * on an acknowledgment (errno 0) and fails otherwise (errno the error,
 * whichever sign the subsystem sent).  Other control types have no handler:
 * the run passes them over and keeps the last callback's result.
 */
static bool ctl_default(const struct nlmsghdr *nlh, int *r)
{
	const struct nlmsgerr *e;

	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP:
	case NLMSG_OVERRUN:
		*r = MNL_CB_OK;
		return true;
	case NLMSG_DONE:
		*r = MNL_CB_STOP;
		return true;
	case NLMSG_ERROR:
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
			errno = EBADMSG;
			*r = MNL_CB_ERROR;
			return true;
		}
		e = mnl_nlmsg_get_payload(nlh);
		errno = e->error < 0 ? -e->error : e->error;
		*r = e->error ? MNL_CB_ERROR : MNL_CB_STOP;
		return true;
	default:
		return false;
	}
}

/*
 * A control type below cb_ctl_array_len belongs to the caller's array: its
 * handler runs, and a NULL slot (or a NULL array) means "ignore this type"
 * (libnftnl relies on it), not "use the default".  Only types at or past the
 * array's length get the default handling.
 */
int mnl_cb_run2(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid,
		mnl_cb_t cb_data, void *data, mnl_cb_t *cb_ctl_array, unsigned int cb_ctl_array_len)
{
	const struct nlmsghdr *nlh = buf;
	int len = (int)numbytes;
	int r = MNL_CB_OK;

	while (mnl_nlmsg_ok(nlh, len)) {
		bool ran = false;

		if (!mnl_nlmsg_portid_ok(nlh, portid)) {
			errno = ESRCH;
			return MNL_CB_ERROR;
		}
		if (!mnl_nlmsg_seq_ok(nlh, seq)) {
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			errno = EINTR;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			if (cb_data) {
				r = cb_data(nlh, data);
				ran = true;
			}
		} else if (nlh->nlmsg_type < cb_ctl_array_len) {
			if (cb_ctl_array && cb_ctl_array[nlh->nlmsg_type]) {
				r = cb_ctl_array[nlh->nlmsg_type](nlh, data);
				ran = true;
			}
		} else {
			ran = ctl_default(nlh, &r);
		}
		if (ran && r <= MNL_CB_STOP)
			return r;
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	return r;
}

int mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid,
	       mnl_cb_t cb_data, void *data)
{
	return mnl_cb_run2(buf, numbytes, seq, portid, cb_data, data, NULL, 0);
}
