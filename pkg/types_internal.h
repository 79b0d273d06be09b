/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between pkg/types_*.c only: the json-c side of types.h.  Nothing
 * outside those files may include this (json-c stays contained there).
 */
#ifndef CNIC_TYPES_INTERNAL_H
#define CNIC_TYPES_INTERNAL_H

#include <json-c/json.h>

#include "types.h"

/*
 * A struct cni_json * is a json_object * in disguise, except that JSON null
 * (a NULL json_object in json-c) is the address of a sentinel so that
 * "present but null" and "absent" (NULL) stay distinct.
 */
const struct cni_json *cnij_wrap(struct json_object *o);
struct json_object *cnij_unwrap(const struct cni_json *v);

/*
 * The member of object o feeding a Go struct field named key (exact match,
 * else case-insensitive; the last such member wins).  false when none.
 */
bool cnij_get(struct json_object *o, const char *key, struct json_object **ret);
/* The same for a bool, number or string field: a JSON null leaves an earlier value. */
bool cnij_get_scalar(struct json_object *o, const char *key, struct json_object **ret);

/* Parse a whole document (depth and size bounded, nothing after it); code 6 on failure. */
int cnij_parse(const char *s, size_t len, const char *what, struct json_object **ret,
	       struct cni_error **err);

/* Build a result from an already parsed object (cni_result_parse without the text step). */
int cnij_result_from_object(struct json_object *o, enum cni_version default_version,
			    struct cni_result **ret, struct cni_error **err);

/* ---- Go-compatible printer (json.MarshalIndent(v, "", "    ")) ------- */

#define JW_MAX_DEPTH 16

struct jw {
	char *buf;
	size_t len, cap;
	unsigned int depth;
	unsigned int count[JW_MAX_DEPTH]; /* members written at each open level */
	bool raw_replacement_char;	  /* invalid UTF-8 as a literal U+FFFD, not \ufffd */
};

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);
/* Start a member of the current object / an element of the current array. */
void jw_key(struct jw *w, const char *key);
void jw_elem(struct jw *w);
void jw_str(struct jw *w, const char *s);
void jw_int(struct jw *w, long long v);
/* Hand out the text (NUL-terminated) and reset w. */
char *jw_take(struct jw *w);
void jw_free(struct jw *w);

#endif
