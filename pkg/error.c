/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "error.h"

unsigned int cni_code_for_errno(int errnum)
{
	switch (errnum < 0 ? -errnum : errnum) {
	case EAGAIN:
	case EBUSY:
	case EINTR:
	case ETIMEDOUT:
		return CNI_ERR_TRY_AGAIN;
	case EIO:
	case ENOSPC:
	case EROFS:
	case EDQUOT:
		return CNI_ERR_IO;
	default:
		return CNI_ERR_INTERNAL;
	}
}

/*
 * Bound on the details a chain of later failures may grow to: a GC or DEL
 * failing on thousands of objects must not print megabytes.
 */
#define MAX_DETAILS 4096
#define OMITTED "; (more failures omitted)"

/* Append "then: <text>" to e's details; the text becomes e's most recent failure. */
static void append_later(struct cni_error *e, const char *text)
{
	char *details;
	size_t at;

	if (e->details && strlen(e->details) + strlen(text) > MAX_DETAILS) {
		size_t n = strlen(e->details), o = strlen(OMITTED);

		if (n < o || strcmp(e->details + n - o, OMITTED) != 0) {
			details = xasprintf("%s" OMITTED, e->details);
			free(e->details);
			e->details = details;
		}
		e->last = CNI_ERROR_LAST_OMITTED;
		return;
	}
	if (e->details && *e->details) {
		details = xasprintf("%s; then: %s", e->details, text);
		at = strlen(e->details) + strlen("; then: ");
	} else {
		details = xasprintf("then: %s", text);
		at = strlen("then: ");
	}
	free(e->details);
	e->details = details;
	e->last = at;
}

int cni_error_setv(struct cni_error **err, unsigned int code, int errnum, const char *fmt, va_list ap)
{
	struct cni_error *e;
	char *msg;

	if (!err) /* nobody listening */
		return -1;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(error message lost: out of memory)");
	if (*err) { /* the first error wins; this one is recorded after it */
		append_later(*err, msg);
		free(msg);
		return -1;
	}
	e = xcalloc(1, sizeof(*e));
	e->code = code;
	e->errnum = errnum;
	e->msg = msg;
	*err = e;
	return -1;
}

int cni_error_set(struct cni_error **err, unsigned int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cni_error_setv(err, code, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int cni_error_errno(struct cni_error **err, int errnum, const char *fmt, ...)
{
	cleanup_free char *what = NULL;
	va_list ap;

	if (errnum < 0)
		errnum = -errnum;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	return cni_error_set(err, cni_code_for_errno(errnum), errnum, "%s: %s",
			     what ? what : "(unknown)", strerror(errnum));
}

int cni_error_wrap(struct cni_error **err, const char *fmt, ...)
{
	char *ctx, *msg;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (!ctx)
		return -1;
	if ((*err)->last == CNI_ERROR_LAST_OMITTED) {
		/* The failure being labelled was not kept: never relabel another. */
		free(ctx);
		return -1;
	}
	if ((*err)->last == 0 || !(*err)->details || (*err)->last > strlen((*err)->details)) {
		msg = xasprintf("%s: %s", ctx, (*err)->msg);
		free((*err)->msg);
		(*err)->msg = msg;
	} else {
		const char *d = (*err)->details;
		size_t at = (*err)->last;

		msg = xasprintf("%.*s%s: %s", (int)at, d, ctx, d + at);
		free((*err)->details);
		(*err)->details = msg;
	}
	free(ctx);
	return -1;
}

int cni_error_add_details(struct cni_error **err, const char *fmt, ...)
{
	char *clause, *details;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&clause, fmt, ap) < 0)
		clause = NULL;
	va_end(ap);
	if (!clause)
		return -1;
	if ((*err)->details && *(*err)->details) {
		details = xasprintf("%s; %s", (*err)->details, clause);
		free(clause);
	} else {
		details = clause;
	}
	free((*err)->details);
	(*err)->details = details;
	return -1;
}

int cni_error_move(struct cni_error **dst, struct cni_error **src)
{
	if (!src || !*src)
		return -1;
	if (dst && !*dst) {
		*dst = *src;
		*src = NULL;
		return -1;
	}
	if (dst) {
		cleanup_free char *text = xasprintf("%s%s%s", (*src)->msg,
						    (*src)->details ? ": " : "",
						    (*src)->details ? (*src)->details : "");

		append_later(*dst, text);
	}
	cni_error_freep(src);
	return -1;
}

void cni_error_free(struct cni_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->details);
	free(e);
}

void cni_error_freep(struct cni_error **e)
{
	cni_error_free(*e);
	*e = NULL;
}
