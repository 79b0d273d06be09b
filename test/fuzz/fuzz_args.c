/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI_ARGS ("K=V;K=V").  Input: the variable's value (cut at a NUL, as an
 * environment variable is).
 *
 * Invariants: an accepted string has exactly one pair per ';'-separated
 * piece, each key and value free of ';' and '=', and joining the pairs
 * again gives the input back and re-parses to the same pairs; lookups
 * return the last value of a key; IgnoreUnknown matches the last such
 * pair; the unknown-key check fails only with code 4 and never when
 * IgnoreUnknown is set.  Rejections are code 4.
 */
#include "../../pkg/types.h"
#include "fuzz.h"

static const char *const known[] = { "IP", "MAC", "GATEWAY", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *s = fuzz_cstr(data, size), *joined = NULL;
	struct cni_env_args a = { 0 }, b = { 0 };
	struct cni_error *err = NULL;
	size_t len = 0, pieces = 1;

	if (cni_env_args_parse(s, &a, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(err->code == CNI_ERR_INVALID_ENV, "code %u", err->code);
		FUZZ_CHECK(a.n == 0 && a.v == NULL, "failed parse wrote *ret");
		cni_error_free(err);
		return 0;
	}
	for (const char *c = s; *c; c++)
		pieces += *c == ';';
	FUZZ_CHECK(*s ? a.n == pieces : a.n == 0, "%zu pairs from %zu pieces", a.n, pieces);

	joined = xcalloc(1, strlen(s) + 1);
	for (size_t i = 0; i < a.n; i++) {
		const struct cni_kv *kv = &a.v[i];

		FUZZ_CHECK(kv->key && kv->value, "NULL key or value");
		FUZZ_CHECK(!strpbrk(kv->key, ";=") && !strpbrk(kv->value, ";="),
			   "separator inside a pair: %s=%s", kv->key, kv->value);
		len += (size_t)sprintf(joined + len, "%s%s=%s", i ? ";" : "", kv->key, kv->value);
	}
	FUZZ_CHECK(strcmp(joined, s) == 0, "join differs:\n%s\n%s", joined, s);
	FUZZ_CHECK(cni_env_args_parse(joined, &b, &err) == 0 && b.n == a.n &&
			   b.ignore_unknown == a.ignore_unknown,
		   "re-parse differs");
	for (size_t i = 0; i < a.n; i++)
		FUZZ_CHECK(strcmp(a.v[i].key, b.v[i].key) == 0 &&
				   strcmp(a.v[i].value, b.v[i].value) == 0,
			   "pair %zu differs after re-parse", i);
	for (size_t i = 0; i < a.n; i++) {
		/* The value each key maps to is that of its last pair. */
		const char *last = NULL;

		for (size_t j = 0; j < a.n; j++)
			if (strcmp(a.v[j].key, a.v[i].key) == 0)
				last = a.v[j].value;
		FUZZ_CHECK(last == cni_env_args_get(&a, a.v[i].key),
			   "get does not return the last value");
	}
	if (cni_env_args_check(&a, known, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(err->code == CNI_ERR_INVALID_ENV && !a.ignore_unknown,
			   "unknown-args check: code %u, ignore %d", err->code, a.ignore_unknown);
		cni_error_free(err);
	}
	cni_env_args_free(&a);
	cni_env_args_free(&b);
	return 0;
}
