/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Scope-bound cleanup for locals (GCC/Clang cleanup attribute) and explicit
 * ownership transfer, in the style of systemd's _cleanup_ and crun's
 * cleanup_*: a local declared with one of these is released on every return
 * path, and TAKE_PTR()/TAKE_FD() hand it out without a double free.
 */
#ifndef CNIC_CLEANUP_H
#define CNIC_CLEANUP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

/* Return the pointer and leave NULL behind, so the cleanup does nothing. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken = (p);                                                        \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Allocation failure in a short-lived plugin process has no useful recovery
 * (the runtime retries the whole operation), so these abort instead of
 * threading ENOMEM through every caller.  This is the one place pkg/ may
 * end the process, as crun's OOM() does.
 */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow *v (holding *n elements of size sz) by one zeroed element; return it. */
void *xappend(void *vp, size_t *n, size_t sz);

/* A NULL-safe owned string vector. */
struct strv {
	char **v;
	size_t n;
};

void strv_push(struct strv *s, const char *str);
void strv_free(struct strv *s);
void strv_copy(struct strv *dst, const struct strv *src);
bool strv_contains(const struct strv *s, const char *str);

#endif
