/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Results (a delegated plugin's output, prevResult) and version conversion.
 *
 * Input: one byte choosing the default version (what a missing cniVersion
 * means), then the JSON.  Invariants, for every version v the parsed
 * result prints in:
 *  - what we print parses again, as version v;
 *  - print -> parse -> print is a fixed point (byte for byte);
 *  - converting through the newest schema loses nothing: printing the
 *    1.1.0 form re-parsed in version v gives what printing directly does;
 *  - printing to 0.1.0/0.2.0 fails only with a proper error.
 * The same bytes also go through cni_error_parse (a delegate's error JSON).
 */
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "fuzz.h"

static char *print_or_null(const struct cni_result *r, enum cni_version v)
{
	struct cni_error *err = NULL;
	char *json = NULL;

	if (cni_result_print(r, v, &json, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(json == NULL, "print failed but returned text");
		/* Only the old ip4/ip6 schema can refuse a result. */
		FUZZ_CHECK(v <= CNI_V020, "print to %s failed: %s", cni_version_str(v), err->msg);
		cni_error_free(err);
		return NULL;
	}
	FUZZ_CHECK(json != NULL && err == NULL, "print succeeded without text");
	return json;
}

static struct cni_result *reparse(const char *json, enum cni_version v)
{
	struct cni_result *r = NULL;
	struct cni_error *err = NULL;

	if (cni_result_parse(json, strlen(json), CNI_V010, &r, &err) < 0)
		FUZZ_CHECK(0, "our own %s output does not parse: %s\n%s", cni_version_str(v),
			   err->msg, json);
	FUZZ_CHECK(r->version == v, "re-parsed version %s, printed %s", cni_version_str(r->version),
		   cni_version_str(v));
	return r;
}

static void check_error_parse(const uint8_t *data, size_t size)
{
	struct cni_error *e = NULL;

	if (cni_error_parse((const char *)data, size, &e) == 0) {
		FUZZ_CHECK(e && e->code > 0 && e->msg, "error JSON parsed into an incomplete error");
		cni_error_free(e);
	} else {
		FUZZ_CHECK(e == NULL, "failed error parse returned an error");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_result struct cni_result *r = NULL;
	cleanup_free char *latest = NULL;
	struct cni_error *err = NULL;
	enum cni_version dv;
	int fd0 = fuzz_lowest_fd();

	if (size < 1)
		return 0;
	dv = (enum cni_version)(data[0] % CNI_V_COUNT);
	data++, size--;
	check_error_parse(data, size);

	if (cni_result_parse((const char *)data, size, dv, &r, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(r == NULL, "failed parse returned a result");
		cni_error_free(err);
		return 0;
	}
	FUZZ_CHECK(r && !err, "parse succeeded with an error set");

	/* A deep copy prints exactly as the original. */
	{
		cleanup_result struct cni_result *d = cni_result_dup(r);
		cleanup_free char *a = print_or_null(r, CNI_V110), *b = print_or_null(d, CNI_V110);

		FUZZ_CHECK(a && b && strcmp(a, b) == 0, "dup prints differently");
	}

	latest = print_or_null(r, CNI_VERSION_LATEST);
	for (int i = 0; i < CNI_V_COUNT; i++) {
		enum cni_version v = (enum cni_version)i;
		cleanup_free char *s1 = print_or_null(r, v), *s2 = NULL, *via = NULL;
		cleanup_result struct cni_result *r2 = NULL, *rl = NULL;

		if (!s1)
			continue;
		r2 = reparse(s1, v);
		s2 = print_or_null(r2, v);
		FUZZ_CHECK(s2 && strcmp(s1, s2) == 0, "print-parse-print differs in %s:\n%s\n---\n%s",
			   cni_version_str(v), s1, s2 ? s2 : "(failed)");

		rl = reparse(latest, CNI_VERSION_LATEST);
		via = print_or_null(rl, v);
		FUZZ_CHECK(via && strcmp(via, s1) == 0,
			   "converting to %s through %s differs:\n%s\n---\n%s", cni_version_str(v),
			   cni_version_str(CNI_VERSION_LATEST), s1, via ? via : "(failed)");
	}
	FUZZ_CHECK(fuzz_lowest_fd() == fd0, "fd leaked");
	return 0;
}
