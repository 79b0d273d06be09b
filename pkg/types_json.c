/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The json-c boundary: opaque JSON nodes, bounded parsing, the declarative
 * field decoder, and a printer that writes exactly what Go's
 * json.MarshalIndent(v, "", "    ") writes (results must match the
 * reference byte for byte in golden tests).
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "types_internal.h"

/* ---- node wrapping ---------------------------------------------------- */

static const char json_null_sentinel;
#define JSON_NULL ((const struct cni_json *)(const void *)&json_null_sentinel)

const struct cni_json *cnij_wrap(struct json_object *o)
{
	return o ? (const struct cni_json *)(const void *)o : JSON_NULL;
}

struct json_object *cnij_unwrap(const struct cni_json *v)
{
	if (!v || v == JSON_NULL)
		return NULL;
	return (struct json_object *)(void *)v;
}

/* ---- parsing ---------------------------------------------------------- */

/*
 * json-c takes NaN and Infinity even in strict mode (and 1e999 becomes
 * one); JSON and Go's decoder have neither.  Depth is already bounded.
 */
static bool has_non_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return !isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			if (has_non_finite(json_object_array_get_idx(o, i)))
				return true;
		}
		return false;
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			(void)key;
			if (has_non_finite(val))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

/*
 * Repeated keys.  json-c keeps one entry per key: the last value, at the
 * position of the first occurrence.  Go assigns every occurrence in
 * document order, so among keys that fold alike ("hostPort", "HostPort")
 * the one whose last occurrence comes last wins.  To make iteration order
 * that of last occurrences, objects that repeat a key are re-ordered here,
 * walking the (already validated) text alongside the tree.
 */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\')
			p++;
	}
	return p < end ? p + 1 : end;
}

static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;

	do {
		p = skip_ws(p, end);
		if (p >= end)
			return end;
		if (*p == '"') {
			p = skip_string(p, end);
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			depth--;
			p++;
		} else if (*p == ',' || *p == ':') {
			p++;
		} else {
			while (p < end && !strchr(",]} \t\r\n", *p))
				p++;
		}
	} while (depth > 0);
	return p;
}

/* A key's string literal decoded as json-c decoded it, or NULL. */
static char *decode_key(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	char *k = NULL;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	/* A top-level value completes only when json-c sees what follows it. */
	if (!o && json_tokener_get_error(tok) == json_tokener_continue)
		o = json_tokener_parse_ex(tok, "", 1);
	if (o && json_object_is_type(o, json_type_string))
		k = xstrdup(json_object_get_string(o));
	json_object_put(o);
	json_tokener_free(tok);
	return k;
}

struct member {
	const char *key, *key_end, *value;
};

static const char *order_by_last(const char *p, const char *end, struct json_object *o);

static void reorder_object(struct json_object *o, const struct member *m, size_t n, const char *end)
{
	struct json_object *seen = json_object_new_object();
	char **keys = xcalloc(n, sizeof(*keys));
	bool *last = xcalloc(n, sizeof(*last));

	for (size_t i = n; i-- > 0;) {
		keys[i] = decode_key(m[i].key, (size_t)(m[i].key_end - m[i].key));
		if (keys[i] && seen && !json_object_object_get_ex(seen, keys[i], NULL)) {
			last[i] = true;
			json_object_object_add(seen, keys[i], NULL);
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *v;

		if (!last[i] || !json_object_object_get_ex(o, keys[i], &v))
			continue;
		order_by_last(m[i].value, end, v);
		/* Move the entry to the end: the last occurrences end up in document order. */
		json_object_get(v);
		json_object_object_del(o, keys[i]);
		json_object_object_add(o, keys[i], v);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(last);
	json_object_put(seen);
}

/* Walk the value at p (o is its node, or NULL); returns the end of the value. */
static const char *order_by_last(const char *p, const char *end, struct json_object *o)
{
	struct member *m = NULL;
	size_t n = 0, i = 0;

	p = skip_ws(p, end);
	if (p >= end)
		return end;
	if (*p == '[') {
		for (p++;;) {
			p = skip_ws(p, end);
			if (p >= end)
				return end;
			if (*p == ']')
				return p + 1;
			if (*p == ',') {
				p++;
				continue;
			}
			p = order_by_last(p, end,
					  json_object_is_type(o, json_type_array)
						  ? json_object_array_get_idx(o, i)
						  : NULL);
			i++;
		}
	}
	if (*p != '{')
		return skip_value(p, end);
	for (p++;;) {
		struct member *e;

		p = skip_ws(p, end);
		if (p >= end)
			break;
		if (*p == '}') {
			p++;
			break;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		e = xappend(&m, &n, sizeof(*e));
		e->key = p;
		p = e->key_end = skip_string(p, end);
		p = skip_ws(p, end);
		if (p < end && *p == ':')
			p++;
		e->value = skip_ws(p, end);
		p = skip_value(e->value, end);
	}
	if (o && json_object_is_type(o, json_type_object)) {
		if (n == (size_t)json_object_object_length(o)) {
			/* No key repeats: iteration order is document order. */
			json_object_object_foreach(o, k, v) {
				(void)k;
				if (i < n)
					order_by_last(m[i].value, end, v);
				i++;
			}
		} else {
			reorder_object(o, m, n, end);
		}
	}
	free(m);
	return p;
}

int cnij_parse(const char *s, size_t len, const char *what, struct json_object **ret,
	       struct cni_error **err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t end;

	if (!s)
		return cni_error_set(err, CNI_ERR_DECODE, 0, "%s: no input", what);
	if (len > CNI_MAX_STDIN)
		return cni_error_set(err, CNI_ERR_DECODE, 0, "%s too large (%zu bytes, at most %u)",
				     what, len, CNI_MAX_STDIN);
	if (len > INT_MAX)
		return cni_error_set(err, CNI_ERR_DECODE, 0, "%s too large", what);
	tok = json_tokener_new_ex(CNI_MAX_JSON_DEPTH);
	if (!tok)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "out of memory");
	/* Strict: no comments, trailing commas, NaN or a second document, as Go's decoder. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/*
		 * Everything was consumed; a bare number at the very end completes
		 * only when it sees a terminator.
		 */
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (jerr != json_tokener_success) {
		const char *desc = jerr == json_tokener_continue ? "unexpected end of input"
								 : json_tokener_error_desc(jerr);
		cni_error_set(err, CNI_ERR_DECODE, 0, "%s: invalid JSON: %s", what, desc);
		json_tokener_free(tok);
		json_object_put(o);
		return -1;
	}
	json_tokener_free(tok);
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", s[end]) || s[end] == '\0') {
			json_object_put(o);
			return cni_error_set(err, CNI_ERR_DECODE, 0,
					     "%s: invalid JSON: data after the top-level value",
					     what);
		}
	}
	if (has_non_finite(o)) {
		json_object_put(o);
		return cni_error_set(err, CNI_ERR_DECODE, 0,
				     "%s: invalid JSON: NaN or infinite number", what);
	}
	order_by_last(s, s + len, o);
	*ret = o;
	return 0;
}

int cni_json_parse(const char *s, size_t len, struct cni_json **ret, struct cni_error **err)
{
	struct json_object *o;

	if (cnij_parse(s, len, "JSON", &o, err) < 0)
		return -1;
	*ret = (struct cni_json *)cnij_wrap(o);
	return 0;
}

void cni_json_free(struct cni_json *v)
{
	json_object_put(cnij_unwrap(v));
}

/* ---- Go's struct field matching ---------------------------------------- */

/*
 * The next character of s folded as Go's encoding/json folds field names:
 * ASCII letters case-insensitively, and the two non-ASCII runes whose
 * Unicode simple fold orbit holds an ASCII letter, KELVIN SIGN (U+212A, k)
 * and LATIN SMALL LETTER LONG S (U+017F, s).  Every other byte is itself.
 */
static unsigned int fold_next(const unsigned char **s)
{
	const unsigned char *p = *s;

	if (p[0] == 0xe2 && p[1] == 0x84 && p[2] == 0xaa) {
		*s += 3;
		return 'k';
	}
	if (p[0] == 0xc5 && p[1] == 0xbf) {
		*s += 2;
		return 's';
	}
	*s += 1;
	return (p[0] >= 'A' && p[0] <= 'Z') ? p[0] - 'A' + 'a' : p[0];
}

bool cni_json_key_fold_equal(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

	while (*x && *y) {
		if (fold_next(&x) != fold_next(&y))
			return false;
	}
	return !*x && !*y;
}

/*
 * Whether document key k feeds the struct field named name, as Go decides:
 * an exact match, else a case-insensitive one unless another field of the
 * same struct (fields, may be NULL) has exactly the name k or folds alike
 * and comes first.
 */
static bool key_feeds(const char *k, const char *name, const struct cni_field *fields)
{
	if (strcmp(k, name) == 0)
		return true;
	if (!cni_json_key_fold_equal(k, name))
		return false;
	for (const struct cni_field *f = fields; f && f->key; f++) {
		if (strcmp(f->key, k) == 0)
			return false;
	}
	/* Of several fields folding alike, the first one in struct order takes it. */
	for (const struct cni_field *f = fields; f && f->key; f++) {
		if (cni_json_key_fold_equal(f->key, k))
			return strcmp(f->key, name) == 0;
	}
	return true;
}

/*
 * Go assigns each matching key in document order, so the last one wins.
 * skip_null: JSON null is a no-op for the field's Go type (bool, numbers,
 * string), so an earlier non-null value stays.  Iteration follows the last
 * occurrence of each key (order_by_last), so "last" is the document's.
 */
/* FNV-1a over the folded characters: equal for keys that fold alike. */
static uint64_t fold_hash(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = 0xcbf29ce484222325ull;

	while (*p) {
		h ^= fold_next(&p);
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * Big objects (hostile input may hold hundreds of thousands of keys) get a
 * compact index, built on the first lookup and kept as the object's
 * userdata: each key's fold hash, in iteration order.  A lookup then scans
 * 16-byte entries instead of the hash table's scattered ones.
 */
#define FOLD_INDEX_MIN 16

struct fold_index {
	size_t n;
	struct fold_entry {
		uint64_t hash;
		const char *key; /* owned by the object; the index goes when a key does */
	} e[];
};

static void free_index(struct json_object *o, void *index)
{
	(void)o;
	free(index);
}

static const struct fold_index *fold_index(struct json_object *o)
{
	struct fold_index *index = json_object_get_userdata(o);
	size_t n = (size_t)json_object_object_length(o), i = 0;

	if (index)
		return index;
	index = xmalloc(sizeof(*index) + n * sizeof(index->e[0]));
	json_object_object_foreach(o, k, v) {
		(void)v;
		if (i < n) {
			index->e[i].hash = fold_hash(k);
			index->e[i].key = k;
			i++;
		}
	}
	index->n = i;
	json_object_set_userdata(o, index, free_index);
	return index;
}

static bool lookup_field(struct json_object *o, const char *name, const struct cni_field *fields,
			 bool skip_null, struct json_object **ret)
{
	bool found = false;

	if (json_object_object_length(o) >= FOLD_INDEX_MIN) {
		const struct fold_index *index = fold_index(o);
		uint64_t h = fold_hash(name);

		for (size_t i = 0; i < index->n; i++) {
			struct json_object *v;

			if (index->e[i].hash == h && key_feeds(index->e[i].key, name, fields) &&
			    json_object_object_get_ex(o, index->e[i].key, &v) && (v || !skip_null)) {
				*ret = v;
				found = true;
			}
		}
		return found;
	}
	json_object_object_foreach(o, k, v) {
		if ((v || !skip_null) && key_feeds(k, name, fields)) {
			*ret = v;
			found = true;
		}
	}
	return found;
}

bool cnij_get(struct json_object *o, const char *key, struct json_object **ret)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return false;
	return lookup_field(o, key, NULL, false, ret);
}

bool cnij_get_scalar(struct json_object *o, const char *key, struct json_object **ret)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return false;
	return lookup_field(o, key, NULL, true, ret) || lookup_field(o, key, NULL, false, ret);
}

/* ---- accessors -------------------------------------------------------- */

const struct cni_json *cni_json_get(const struct cni_json *obj, const char *key)
{
	struct json_object *v;

	if (!cnij_get(cnij_unwrap(obj), key, &v))
		return NULL;
	return cnij_wrap(v);
}

const struct cni_json *cni_json_get_exact(const struct cni_json *obj, const char *key)
{
	struct json_object *o = cnij_unwrap(obj), *v;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return cnij_wrap(v);
}

bool cni_json_is_object(const struct cni_json *v)
{
	return cnij_unwrap(v) && json_object_is_type(cnij_unwrap(v), json_type_object);
}

bool cni_json_is_array(const struct cni_json *v)
{
	return cnij_unwrap(v) && json_object_is_type(cnij_unwrap(v), json_type_array);
}

bool cni_json_is_null(const struct cni_json *v)
{
	return v == JSON_NULL;
}

bool cni_json_is_string(const struct cni_json *v)
{
	return cnij_unwrap(v) && json_object_is_type(cnij_unwrap(v), json_type_string);
}

const char *cni_json_string(const struct cni_json *v)
{
	return cni_json_is_string(v) ? json_object_get_string(cnij_unwrap(v)) : NULL;
}

size_t cni_json_array_len(const struct cni_json *v)
{
	return cni_json_is_array(v) ? json_object_array_length(cnij_unwrap(v)) : 0;
}

const struct cni_json *cni_json_array_get(const struct cni_json *v, size_t i)
{
	if (i >= cni_json_array_len(v))
		return NULL;
	return cnij_wrap(json_object_array_get_idx(cnij_unwrap(v), i));
}

int cni_json_object_foreach(const struct cni_json *obj,
			    int (*fn)(const char *key, const struct cni_json *v, void *userdata,
				      struct cni_error **err),
			    void *userdata, struct cni_error * *err)
{
	struct json_object *o = cnij_unwrap(obj);

	if (!cni_json_is_object(obj))
		return 0;
	json_object_object_foreach(o, key, val) {
		if (fn(key, cnij_wrap(val), userdata, err) < 0)
			return -1;
	}
	return 0;
}

char *cni_json_serialize(const struct cni_json *v)
{
	if (!v)
		return NULL;
	return xstrdup(json_object_to_json_string_ext(cnij_unwrap(v),
						      JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
}

char *cni_json_path_key(const char *path, const char *key)
{
	if (!path || !*path)
		return xstrdup(key);
	return xasprintf("%s.%s", path, key);
}

char *cni_json_path_index(const char *path, size_t i)
{
	return xasprintf("%s[%zu]", path ? path : "", i);
}

static const char *type_desc(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a non-integer number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

/* ---- Go-compatible printing ------------------------------------------- */

static void jw_reserve(struct jw *w, size_t n)
{
	if (w->len + n + 1 <= w->cap)
		return;
	while (w->len + n + 1 > w->cap)
		w->cap = w->cap ? w->cap * 2 : 256;
	w->buf = xrealloc(w->buf, w->cap);
}

static void jw_put(struct jw *w, const char *s, size_t n)
{
	jw_reserve(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void jw_puts(struct jw *w, const char *s)
{
	jw_put(w, s, strlen(s));
}

static void jw_newline(struct jw *w)
{
	jw_puts(w, "\n");
	for (unsigned int i = 0; i < w->depth; i++)
		jw_puts(w, "    ");
}

static void jw_open(struct jw *w, const char *c)
{
	jw_puts(w, c);
	if (w->depth < JW_MAX_DEPTH)
		w->count[w->depth] = 0;
	w->depth++;
}

static void jw_close(struct jw *w, const char *c)
{
	unsigned int n = w->depth <= JW_MAX_DEPTH ? w->count[w->depth - 1] : 1;

	w->depth--;
	if (n > 0)
		jw_newline(w);
	jw_puts(w, c);
}

void jw_obj_begin(struct jw *w)
{
	jw_open(w, "{");
}

void jw_obj_end(struct jw *w)
{
	jw_close(w, "}");
}

void jw_arr_begin(struct jw *w)
{
	jw_open(w, "[");
}

void jw_arr_end(struct jw *w)
{
	jw_close(w, "]");
}

void jw_elem(struct jw *w)
{
	if (w->depth <= JW_MAX_DEPTH && w->count[w->depth - 1]++ > 0)
		jw_puts(w, ",");
	jw_newline(w);
}

void jw_key(struct jw *w, const char *key)
{
	jw_elem(w);
	jw_str(w, key);
	jw_puts(w, ": ");
}

void jw_int(struct jw *w, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	jw_puts(w, buf);
}

/* Length of the valid UTF-8 sequence at s (as Go's utf8.DecodeRune accepts), or 0. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* Exclude overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/*
 * Go's encodeState.string with HTML escaping (the json.Marshal default):
 * ", \, <, >, & and control characters escaped (\n \r \t short, others
 * \u00XX with lowercase hex), invalid UTF-8 as \ufffd, U+2028/U+2029
 * escaped, '/' left alone.
 */
void jw_str(struct jw *w, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	jw_puts(w, "\"");
	while (*s) {
		unsigned char c = *s;
		size_t n;

		if (c < 0x80) {
			char esc[7];

			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				jw_put(w, (const char *)s, 1);
			} else if (c == '"' || c == '\\') {
				esc[0] = '\\';
				esc[1] = (char)c;
				jw_put(w, esc, 2);
			} else if (c == '\n') {
				jw_puts(w, "\\n");
			} else if (c == '\r') {
				jw_puts(w, "\\r");
			} else if (c == '\t') {
				jw_puts(w, "\\t");
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				jw_put(w, esc, 6);
			}
			s++;
			continue;
		}
		n = utf8_seq_len(s);
		if (n == 0) {
			jw_puts(w, w->raw_replacement_char ? "\xef\xbf\xbd" : "\\ufffd");
			s++;
		} else if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
			jw_puts(w, s[2] == 0xa8 ? "\\u2028" : "\\u2029");
			s += 3;
		} else {
			jw_put(w, (const char *)s, n);
			s += n;
		}
	}
	jw_puts(w, "\"");
}

char *jw_take(struct jw *w)
{
	char *s = w->buf ? w->buf : xstrdup("");

	memset(w, 0, sizeof(*w));
	return s;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

char *cni_json_quote(const char *s)
{
	struct jw w = { 0 };

	jw_str(&w, s);
	return jw_take(&w);
}

/* cni_mac_parse() is in mac.c, with the other MAC helpers. */

/* ---- field decoder ---------------------------------------------------- */

static const struct cni_field route_fields[] = {
	{ .key = "dst",
	  .kind = CNI_FIELD_CIDR,
	  .offset = offsetof(struct cni_route, dst),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "dst",
	  .kind = CNI_FIELD_IPNET,
	  .offset = offsetof(struct cni_route, dst_given),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "gw",
	  .kind = CNI_FIELD_IP,
	  .offset = offsetof(struct cni_route, gw),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_route, mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "advmss",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_route, advmss),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "priority",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_route, priority),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "table",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_route, table),
	  .present = offsetof(struct cni_route, has_table),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "scope",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct cni_route, scope),
	  .present = offsetof(struct cni_route, has_scope),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = 255 },
	{ 0 },
};

static const struct cni_field dns_fields[] = {
	{ .key = "nameservers",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct cni_dns, nameservers),
	  .present = offsetof(struct cni_dns, lists_given),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "domain",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_dns, domain),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "search",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct cni_dns, search),
	  .present = offsetof(struct cni_dns, lists_given),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ .key = "options",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct cni_dns, options),
	  .present = offsetof(struct cni_dns, lists_given),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT },
	{ 0 },
};

static int type_error(struct json_object *o, const char *want, const char *path,
		      struct cni_error **err)
{
	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected %s, got %s", path, want,
			     type_desc(o));
}

/* A string without embedded NULs (C code could not see past one). */
static int get_string(struct json_object *o, const char *path, const char **ret,
		      struct cni_error **err)
{
	const char *s;

	if (!o || !json_object_is_type(o, json_type_string))
		return type_error(o, "a string", path, err);
	s = json_object_get_string(o);
	if (strlen(s) != (size_t)json_object_get_string_len(o))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: string contains a NUL",
				     path);
	*ret = s;
	return 0;
}

/*
 * A copy with each byte that is not part of valid UTF-8 replaced by U+FFFD,
 * as Go's decoder does: strings then print (and round-trip) exactly as
 * the reference's.
 */
static char *dup_utf8(const char *s)
{
	size_t len = strlen(s), i, o = 0;
	char *out;

	for (i = 0; i < len;) {
		size_t n = (unsigned char)s[i] < 0x80 ? 1
						      : utf8_seq_len((const unsigned char *)s + i);

		if (n == 0)
			break;
		i += n;
	}
	if (i == len)
		return xstrdup(s);
	out = xmalloc(len * 3 + 1);
	for (i = 0; i < len;) {
		size_t n = (unsigned char)s[i] < 0x80 ? 1
						      : utf8_seq_len((const unsigned char *)s + i);

		if (n == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

static int get_integer(struct json_object *o, long long min, long long max, const char *path,
		       long long *ret, struct cni_error **err)
{
	long long v;

	if (!o || !json_object_is_type(o, json_type_int))
		return type_error(o, "an integer", path, err);
	v = (long long)json_object_get_int64(o);
	/* json-c saturates: INT64_MAX also stands for anything larger. */
	if ((v == LLONG_MAX && json_object_get_uint64(o) > (uint64_t)LLONG_MAX) || v < min || v > max)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: %s out of range [%lld, %lld]", path,
				     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), min,
				     max);
	*ret = v;
	return 0;
}

static int decode_strv(struct json_object *o, struct strv *dst, const char *path,
		       struct cni_error **err)
{
	struct strv out = { 0 };
	size_t n;

	if (!o || !json_object_is_type(o, json_type_array))
		return type_error(o, "an array of strings", path, err);
	n = json_object_array_length(o);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = cni_json_path_index(path, i);
		const char *s;

		char **slot;

		if (get_string(json_object_array_get_idx(o, i), p, &s, err) < 0) {
			strv_free(&out);
			return -1;
		}
		slot = xappend(&out.v, &out.n, sizeof(char *));
		*slot = dup_utf8(s);
	}
	strv_free(dst);
	*dst = out;
	return 0;
}

static int decode_routes(struct json_object *o, struct cni_routes *dst, const char *path,
			 struct cni_error **err)
{
	struct cni_routes out = { 0 };
	size_t n;

	if (!o || !json_object_is_type(o, json_type_array))
		return type_error(o, "an array of routes", path, err);
	n = json_object_array_length(o);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = cni_json_path_index(path, i);
		struct cni_route *r = xappend(&out.v, &out.n, sizeof(*r));

		struct json_object *e = json_object_array_get_idx(o, i);

		if (!e || !json_object_is_type(e, json_type_object)) {
			cni_routes_free(&out);
			return type_error(e, "a route object", p, err);
		}
		if (cni_json_decode(cnij_wrap(e), route_fields, r, p, err) < 0) {
			cni_routes_free(&out);
			return -1;
		}
	}
	cni_routes_free(dst);
	*dst = out;
	return 0;
}

static int decode_dns(struct json_object *o, struct cni_dns *dst, const char *path,
		      struct cni_error **err)
{
	struct cni_dns out = { 0 };

	if (!o || !json_object_is_type(o, json_type_object))
		return type_error(o, "an object", path, err);
	if (cni_json_decode(cnij_wrap(o), dns_fields, &out, path, err) < 0)
		return -1;
	cni_dns_free(dst);
	*dst = out;
	return 0;
}

static int decode_address(struct json_object *o, enum cni_field_kind kind, void *dst,
			  const char *path, struct cni_error **err)
{
	const char *s;
	struct ipnet n;

	if (get_string(o, path, &s, err) < 0)
		return -1;
	switch (kind) {
	case CNI_FIELD_IP:
		/* Go's net.IP decodes "" as no address; configs in the wild rely on it. */
		if (!*s)
			return 0;
		if (ipaddr_parse(s, dst) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: invalid IP address \"%s\"", path, s);
		return 0;
	case CNI_FIELD_IPNET:
	case CNI_FIELD_CIDR:
		if (ipnet_parse(s, &n) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: invalid CIDR \"%s\"", path, s);
		if (kind == CNI_FIELD_CIDR)
			ipnet_canonical(&n, dst);
		else
			*(struct ipnet *)dst = n;
		return 0;
	default: {
		char mac[CNI_MAC_STRLEN];

		if (cni_mac_parse(s, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s: invalid MAC address \"%s\"", path, s);
		free(*(char **)dst);
		*(char **)dst = xstrdup(mac);
		return 0;
	}
	}
}

int cni_json_decode_value(const struct cni_json *v, enum cni_field_kind kind, long long min,
			  long long max, void *dst, const char *path, struct cni_error **err)
{
	struct json_object *o = cnij_unwrap(v);
	const char *s;
	long long n;

	switch (kind) {
	case CNI_FIELD_BOOL:
		if (!o || !json_object_is_type(o, json_type_boolean))
			return type_error(o, "a boolean", path, err);
		*(bool *)dst = json_object_get_boolean(o);
		return 0;
	case CNI_FIELD_INT:
		if (min == 0 && max == 0) {
			min = INT_MIN;
			max = INT_MAX;
		}
		if (min < INT_MIN)
			min = INT_MIN;
		if (max > INT_MAX)
			max = INT_MAX;
		if (get_integer(o, min, max, path, &n, err) < 0)
			return -1;
		*(int *)dst = (int)n;
		return 0;
	case CNI_FIELD_UINT32:
		if (min == 0 && max == 0)
			max = UINT32_MAX;
		if (min < 0)
			min = 0;
		if (max > UINT32_MAX)
			max = UINT32_MAX;
		if (get_integer(o, min, max, path, &n, err) < 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)n;
		return 0;
	case CNI_FIELD_UINT64:
		if (min == 0 && max == 0)
			max = LLONG_MAX;
		if (min < 0)
			min = 0;
		if (get_integer(o, min, max, path, &n, err) < 0)
			return -1;
		*(uint64_t *)dst = (uint64_t)n;
		return 0;
	case CNI_FIELD_STRING:
		if (get_string(o, path, &s, err) < 0)
			return -1;
		free(*(char **)dst);
		*(char **)dst = dup_utf8(s);
		return 0;
	case CNI_FIELD_STRV:
		return decode_strv(o, dst, path, err);
	case CNI_FIELD_IP:
	case CNI_FIELD_IPNET:
	case CNI_FIELD_CIDR:
	case CNI_FIELD_MAC:
		return decode_address(o, kind, dst, path, err);
	case CNI_FIELD_ROUTES:
		return decode_routes(o, dst, path, err);
	case CNI_FIELD_DNS:
		return decode_dns(o, dst, path, err);
	case CNI_FIELD_CUSTOM:
		break;
	}
	return cni_error_set(err, CNI_ERR_INTERNAL, 0, "%s: field kind %d has no plain decoder",
			     path, (int)kind);
}

void cni_field_value_free(enum cni_field_kind kind, void *dst)
{
	switch (kind) {
	case CNI_FIELD_STRING:
	case CNI_FIELD_MAC:
		free(*(char **)dst);
		*(char **)dst = NULL;
		break;
	case CNI_FIELD_STRV:
		strv_free(dst);
		break;
	case CNI_FIELD_ROUTES:
		cni_routes_free(dst);
		break;
	case CNI_FIELD_DNS:
		cni_dns_free(dst);
		break;
	default:
		break;
	}
}

void cni_fields_free(const struct cni_field *fields, void *dst)
{
	for (const struct cni_field *f = fields; f->key; f++) {
		void *p = (char *)dst + f->offset;

		if (f->kind == CNI_FIELD_CUSTOM) {
			if (f->free)
				f->free(p);
		} else {
			cni_field_value_free(f->kind, p);
		}
	}
}

/* Go types on which JSON null has no effect (not pointers, slices or maps). */
static bool scalar_kind(enum cni_field_kind k)
{
	return k == CNI_FIELD_BOOL || k == CNI_FIELD_INT || k == CNI_FIELD_UINT32 ||
	       k == CNI_FIELD_UINT64 || k == CNI_FIELD_STRING;
}

static int missing(const struct cni_field *f, const char *path, struct cni_error **err)
{
	cleanup_free char *p = cni_json_path_key(path, f->key);

	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: required key missing", p);
}

int cni_json_decode(const struct cni_json *obj, const struct cni_field *fields, void *dst,
		    const char *path, struct cni_error **err)
{
	struct json_object *o = cnij_unwrap(obj);

	if (!o) {
		/* Absent or null: fine unless something is required. */
		for (const struct cni_field *f = fields; f->key; f++) {
			if (f->flags & CNI_FIELD_REQUIRED) {
				missing(f, path, err);
				cni_fields_free(fields, dst);
				return -1;
			}
		}
		return 0;
	}
	if (!json_object_is_type(o, json_type_object)) {
		type_error(o, "an object", path && *path ? path : "config", err);
		cni_fields_free(fields, dst);
		return -1;
	}

	for (const struct cni_field *f = fields; f->key; f++) {
		cleanup_free char *p = NULL;
		struct json_object *v;
		void *d = (char *)dst + f->offset;
		int r;

		if (!lookup_field(o, f->key, fields,
				  scalar_kind(f->kind) && (f->flags & CNI_FIELD_NULL_OK), &v) ||
		    (!v && (f->flags & CNI_FIELD_NULL_OK))) {
			if (f->flags & CNI_FIELD_REQUIRED) {
				missing(f, path, err);
				goto fail;
			}
			continue;
		}
		p = cni_json_path_key(path, f->key);
		if (f->kind == CNI_FIELD_CUSTOM)
			r = f->decode ? f->decode(cnij_wrap(v), d, p, err)
				      : cni_error_set(err, CNI_ERR_INTERNAL, 0, "%s: no decoder", p);
		else
			r = cni_json_decode_value(cnij_wrap(v), f->kind, f->min, f->max, d, p, err);
		if (r < 0)
			goto fail;
		if (f->flags & CNI_FIELD_HAS_PRESENT)
			*(bool *)((char *)dst + f->present) = true;
	}
	return 0;

fail:
	cni_fields_free(fields, dst);
	return -1;
}
