/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI_ARGS: "K=V;K=V", with the reference's rules (Go types.LoadArgs): keys
 * are case-sensitive, a pair needs exactly one '=', unknown keys are an
 * error unless IgnoreUnknown is true.  Unlike the reference, failures are
 * code 4 (invalid environment) rather than 999.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "types.h"

struct buf {
	char *s;
	size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* s quoted as Go's %q does, so messages read like the reference's. */
static void buf_quote(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	buf_puts(b, "\"");
	while (*s) {
		char esc[8];
		size_t n;

		switch (*s) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\a':
			buf_puts(b, "\\a");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\v':
			buf_puts(b, "\\v");
			break;
		default:
			if (*s >= 0x20 && *s < 0x7f) {
				buf_put(b, (const char *)s, 1);
			} else if (*s >= 0x80 && (n = utf8_len(s)) > 0) {
				buf_put(b, (const char *)s, n);
				s += n;
				continue;
			} else {
				snprintf(esc, sizeof(esc), "\\x%02x", *s);
				buf_puts(b, esc);
			}
			break;
		}
		s++;
	}
	buf_puts(b, "\"");
}

static char *quote(const char *s)
{
	struct buf b = { 0 };

	buf_quote(&b, s);
	return b.s;
}

void cni_env_args_free(struct cni_env_args *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].key);
		free(a->v[i].value);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
	a->ignore_unknown = false;
	free(a->invalid);
	a->invalid = NULL;
}

void cni_env_args_parse_lazy(const char *s, struct cni_env_args *ret)
{
	cleanup_error struct cni_error *e = NULL;

	memset(ret, 0, sizeof(*ret));
	if (cni_env_args_parse(s, ret, &e) < 0)
		ret->invalid = xstrdup(e->msg);
}

static int parse_bool(const char *s, bool *ret)
{
	if (strcasecmp(s, "1") == 0 || strcasecmp(s, "true") == 0)
		*ret = true;
	else if (strcasecmp(s, "0") == 0 || strcasecmp(s, "false") == 0)
		*ret = false;
	else
		return -1;
	return 0;
}

static int parse_pair(struct cni_env_args *a, const char *pair, size_t len, struct cni_error **err)
{
	cleanup_free char *p = xstrndup(pair, len);
	char *eq = strchr(p, '=');
	struct cni_kv *kv;

	if (!eq || strchr(eq + 1, '=')) {
		cleanup_free char *q = quote(p);

		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0, "ARGS: invalid pair %s", q);
	}
	*eq = '\0';
	if (strcmp(p, "IgnoreUnknown") == 0 && parse_bool(eq + 1, &a->ignore_unknown) < 0) {
		cleanup_free char *q = NULL;
		cleanup_free char *lower = xstrdup(eq + 1);

		*eq = '=';
		q = quote(p);
		for (char *c = lower; *c; c++)
			*c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "ARGS: error parsing value of pair %s: boolean unmarshal "
				     "error: invalid input %s",
				     q, lower);
	}
	kv = xappend(&a->v, &a->n, sizeof(*kv));
	kv->key = xstrdup(p);
	kv->value = xstrdup(eq + 1);
	return 0;
}

int cni_env_args_parse(const char *s, struct cni_env_args *ret, struct cni_error **err)
{
	struct cni_env_args a = { 0 };

	if (s && *s) {
		/* Every ';'-separated piece is a pair, so "" between two ';' is an invalid one. */
		for (const char *p = s;;) {
			const char *semi = strchr(p, ';');
			size_t len = semi ? (size_t)(semi - p) : strlen(p);

			if (parse_pair(&a, p, len, err) < 0) {
				cni_env_args_free(&a);
				return -1;
			}
			if (!semi)
				break;
			p = semi + 1;
		}
	}
	*ret = a;
	return 0;
}

const char *cni_env_args_get(const struct cni_env_args *a, const char *key)
{
	if (a->invalid)
		return NULL;
	for (size_t i = a->n; i-- > 0;) {
		if (strcmp(a->v[i].key, key) == 0)
			return a->v[i].value;
	}
	return NULL;
}

static bool is_known(const char *key, const char *const *known)
{
	if (strcmp(key, "IgnoreUnknown") == 0)
		return true;
	for (; known && *known; known++) {
		if (strcmp(key, *known) == 0)
			return true;
	}
	return false;
}

int cni_env_args_check(const struct cni_env_args *a, const char *const *known, struct cni_error **err)
{
	struct buf b = { 0 };
	size_t unknown = 0;

	if (a->invalid)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0, "%s", a->invalid);
	if (a->ignore_unknown)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		cleanup_free char *pair = NULL;

		if (is_known(a->v[i].key, known))
			continue;
		buf_puts(&b, unknown++ ? " " : "[");
		pair = xasprintf("%s=%s", a->v[i].key, a->v[i].value);
		buf_quote(&b, pair);
	}
	if (unknown == 0)
		return 0;
	buf_puts(&b, "]");
	cni_error_set(err, CNI_ERR_INVALID_ENV, 0, "ARGS: unknown args %s", b.s);
	free(b.s);
	return -1;
}
