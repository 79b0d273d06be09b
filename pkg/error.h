/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One error type carried up the stack.
 *
 * Every fallible function is `int f(..., struct cni_error **err)`: it returns
 * >= 0 on success and leaves *err untouched, or returns -1 with *err set.
 * The helpers below all return -1 so that failures are one-liners:
 *
 *	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "invalid mode \"%s\"", s);
 *
 * The first error wins: setting an error when *err is already set keeps the
 * original's code, errnum and message (rollback and best-effort DEL paths
 * rely on this to report the error that started it), and the later failure
 * is appended to its details as "then: <msg>", so no failure goes unreported.
 * cni_error_wrap labels the most recent failure, which is the one the step
 * being wrapped reported: an earlier step's message is never relabelled.
 *
 * `err` may be NULL when the caller does not want details; a function that
 * passes NULL down must never read *err afterwards, and a callee must check
 * `err` before looking at *err.  Library code never prints and never exits:
 * only the skeleton turns an error into output.
 */
#ifndef CNIC_ERROR_H
#define CNIC_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

enum cni_code {
	CNI_OK = 0,
	CNI_ERR_INCOMPATIBLE_VERSION = 1,
	CNI_ERR_UNSUPPORTED_FIELD = 2,
	CNI_ERR_UNKNOWN_CONTAINER = 3,
	CNI_ERR_INVALID_ENV = 4,
	CNI_ERR_IO = 5,
	CNI_ERR_DECODE = 6,
	CNI_ERR_INVALID_CONFIG = 7,
	/* Not in the spec's table; libcni's skel uses it for "netns is the plugin's own". */
	CNI_ERR_INVALID_NETNS = 8,
	CNI_ERR_TRY_AGAIN = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_LIMITED_CONNECTIVITY = 51,
	/*
	 * Plugin-specific codes (>= 100), documented in docs/errors.md.
	 */
	CNI_ERR_IPAM_EXHAUSTED = 100,	/* no free address in a range set */
	CNI_ERR_IPAM_UNAVAILABLE = 101, /* a requested address is taken */
	CNI_ERR_IPAM_DUPLICATE = 102,	/* this attachment already holds an address */
	CNI_ERR_PORT_TAKEN = 110,	/* portmap: host port mapped by another attachment */
	CNI_ERR_INTERNAL = 999,
};

struct cni_error {
	unsigned int code; /* enum cni_code */
	int errnum;	   /* errno / negated netlink error, 0 if none */
	char *msg;	   /* short, names the object concerned */
	char *details;	   /* context, strerror, kernel extended ACK, later failures */
	/*
	 * Where the most recent failure's text starts in details, or 0 when it
	 * is msg itself (a later failure's text never starts at 0: it follows
	 * "then: "): cni_error_wrap's target.
	 */
	size_t last;
};

/* cni_error.last when the most recent failure was left out (details at their bound). */
#define CNI_ERROR_LAST_OMITTED ((size_t)-1)

int cni_error_set(struct cni_error **err, unsigned int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cni_error_setv(struct cni_error **err, unsigned int code, int errnum, const char *fmt,
		   va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * An error from a failed syscall or netlink call: the code follows errnum
 * (EAGAIN, EWOULDBLOCK, EBUSY, EINTR and ETIMEDOUT give 11 "try again later",
 * EIO/ENOSPC/EROFS/EDQUOT give 5, anything else 999) and strerror(errnum) is
 * appended to the message.
 */
int cni_error_errno(struct cni_error **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix context to the most recent failure of an already-set error:
 * "ctx: msg" when the error is the step's own, "then: ctx: later" in the
 * details when the step failed after an earlier one had set *err.  Returns -1.
 */
int cni_error_wrap(struct cni_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append a clause to the details ("a; b"). Returns -1. */
int cni_error_add_details(struct cni_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Hand an error collected in a local up to the caller's: when *dst is free,
 * *src moves there; when *dst already holds an earlier error, that one keeps
 * its code and message and src's message is appended to its details, so a
 * second failure (e.g. inside a rollback) is reported, not dropped.  dst may
 * be NULL (nobody listening: src is freed).  *src is NULL afterwards.
 * Returns -1, like the setters.
 */
int cni_error_move(struct cni_error **dst, struct cni_error **src);

void cni_error_free(struct cni_error *e);
void cni_error_freep(struct cni_error **e);
#define cleanup_error __attribute__((cleanup(cni_error_freep)))

/* Code for an errno value (see cni_error_errno). */
unsigned int cni_code_for_errno(int errnum);

#endif
