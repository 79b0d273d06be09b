/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error API's contract: the first error keeps its code and message,
 * later failures are recorded in its details instead of being dropped, wrap
 * labels the failure of the step it wraps (never an earlier step's), move
 * hands a local error up, and err=NULL means nobody listens.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../pkg/error.h"

static void test_first_wins_second_recorded(void **state)
{
	struct cni_error *e = NULL;

	(void)state;
	assert_int_equal(cni_error_set(&e, CNI_ERR_INVALID_CONFIG, 0, "bad mode"), -1);
	assert_int_equal(cni_error_errno(&e, EIO, "write backup"), -1);
	assert_int_equal(e->code, CNI_ERR_INVALID_CONFIG);
	assert_int_equal(e->errnum, 0);
	assert_string_equal(e->msg, "bad mode");
	assert_non_null(e->details);
	assert_string_equal(e->details, "then: write backup: Input/output error");
	cni_error_free(e);
}

static void test_wrap_labels_own_failure(void **state)
{
	struct cni_error *e = NULL;

	(void)state;
	cni_error_errno(&e, ENOENT, "open");
	cni_error_wrap(&e, "step one");
	cni_error_wrap(&e, "plugin");
	assert_string_equal(e->msg, "plugin: step one: open: No such file or directory");
	assert_null(e->details);
	cni_error_free(e);
}

/* The defect: a failing later step used to relabel the first step's message. */
static void test_wrap_does_not_relabel_earlier_error(void **state)
{
	struct cni_error *e = NULL;

	(void)state;
	cni_error_set(&e, CNI_ERR_IO, EIO, "add address");
	cni_error_add_details(&e, "kernel: bad prefix");
	/* best-effort undo, which fails too and wraps its own failure */
	cni_error_errno(&e, ENODEV, "delete link");
	cni_error_wrap(&e, "rollback");
	assert_string_equal(e->msg, "add address");
	assert_int_equal(e->code, CNI_ERR_IO);
	assert_int_equal(e->errnum, EIO);
	assert_string_equal(e->details,
			    "kernel: bad prefix; then: rollback: delete link: No such device");
	cni_error_add_details(&e, "extra");
	cni_error_wrap(&e, "outer");
	assert_string_equal(
		e->details,
		"kernel: bad prefix; then: outer: rollback: delete link: No such device; extra");
	cni_error_free(e);
}

static void test_move_into_empty_and_set(void **state)
{
	struct cni_error *dst = NULL, *a = NULL, *b = NULL;

	(void)state;
	cni_error_set(&a, CNI_ERR_TRY_AGAIN, EAGAIN, "first");
	assert_int_equal(cni_error_move(&dst, &a), -1);
	assert_null(a);
	assert_string_equal(dst->msg, "first");
	assert_int_equal(dst->code, CNI_ERR_TRY_AGAIN);

	cni_error_set(&b, CNI_ERR_INTERNAL, ENOMEM, "second");
	cni_error_add_details(&b, "why");
	cni_error_move(&dst, &b);
	assert_null(b);
	assert_string_equal(dst->msg, "first");
	assert_int_equal(dst->code, CNI_ERR_TRY_AGAIN);
	assert_string_equal(dst->details, "then: second: why");
	/* a wrap after the move labels the moved failure */
	cni_error_wrap(&dst, "undo");
	assert_string_equal(dst->details, "then: undo: second: why");
	cni_error_free(dst);
}

static void test_null_means_nobody_listens(void **state)
{
	struct cni_error *a = NULL, *none = NULL;

	(void)state;
	assert_int_equal(cni_error_set(NULL, CNI_ERR_INTERNAL, 0, "x"), -1);
	assert_int_equal(cni_error_errno(NULL, EIO, "x"), -1);
	assert_int_equal(cni_error_wrap(NULL, "x"), -1);
	assert_int_equal(cni_error_add_details(NULL, "x"), -1);
	/* wrap and details on an unset error set nothing */
	assert_int_equal(cni_error_wrap(&none, "x"), -1);
	assert_int_equal(cni_error_add_details(&none, "x"), -1);
	assert_null(none);
	cni_error_set(&a, CNI_ERR_INTERNAL, 0, "freed");
	cni_error_move(NULL, &a); /* freed: ASan reports a leak otherwise */
	assert_null(a);
	assert_int_equal(cni_error_move(&none, NULL), -1);
	assert_int_equal(cni_error_move(&none, &a), -1);
	assert_null(none);
}

/* An error parsed from a delegate (last = 0, details set) is wrapped on its msg. */
static void test_wrap_parsed_error(void **state)
{
	struct cni_error *e = calloc(1, sizeof(*e));

	(void)state;
	e->code = 7;
	e->msg = strdup("delegate says no");
	e->details = strdup("its details");
	cni_error_wrap(&e, "ipam");
	assert_string_equal(e->msg, "ipam: delegate says no");
	assert_string_equal(e->details, "its details");
	cni_error_free(e);
}

/* A long chain of failures is bounded, and a wrap of an omitted one relabels nothing. */
static void test_details_bounded(void **state)
{
	struct cni_error *e = NULL;

	(void)state;
	cni_error_set(&e, CNI_ERR_INTERNAL, 0, "first");
	for (int i = 0; i < 2000; i++)
		cni_error_set(&e, CNI_ERR_INTERNAL, 0, "element %d could not be removed", i);
	assert_true(strlen(e->details) < 4200);
	assert_non_null(strstr(e->details, "then: element 0 could not"));
	assert_non_null(strstr(e->details, "(more failures omitted)"));
	assert_null(strstr(strstr(e->details, "(more failures omitted)") + 1,
			   "(more failures omitted)"));
	cni_error_wrap(&e, "gc");
	assert_string_equal(e->msg, "first");
	assert_null(strstr(e->details, "gc: "));
	cni_error_free(e);
}

static void test_code_for_errno(void **state)
{
	(void)state;
	assert_int_equal(cni_code_for_errno(EAGAIN), CNI_ERR_TRY_AGAIN);
	assert_int_equal(cni_code_for_errno(-EBUSY), CNI_ERR_TRY_AGAIN);
	assert_int_equal(cni_code_for_errno(ENOSPC), CNI_ERR_IO);
	assert_int_equal(cni_code_for_errno(EMFILE), CNI_ERR_INTERNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_wins_second_recorded),
		cmocka_unit_test(test_wrap_labels_own_failure),
		cmocka_unit_test(test_wrap_does_not_relabel_earlier_error),
		cmocka_unit_test(test_move_into_empty_and_set),
		cmocka_unit_test(test_null_means_nobody_listens),
		cmocka_unit_test(test_wrap_parsed_error),
		cmocka_unit_test(test_details_bounded),
		cmocka_unit_test(test_code_for_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
