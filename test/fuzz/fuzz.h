/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared helpers for the libFuzzer targets (test/fuzz/fuzz_*.c).
 *
 * Every target is built with clang -fsanitize=fuzzer,address,undefined: a
 * crash, an out-of-bounds access, undefined behaviour or a leak ends the
 * run.  On top of that each target checks invariants of its own (round
 * trips, ranges, "nothing left behind") with FUZZ_CHECK, which aborts with
 * a message so libFuzzer saves the input as a crash reproducer.
 */
#ifndef CNIC_FUZZ_H
#define CNIC_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "\nINVARIANT FAILED %s:%d: %s\n  ", __FILE__, __LINE__,    \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated copy of the input, cut at its first NUL (env vars and file names have none). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);

	return xstrndup((const char *)data, n);
}

/* The lowest free fd: equal before and after an input means no fd leaked. */
static inline int fuzz_lowest_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* A failed call must report an error with a code and a message, and nothing else. */
#define FUZZ_CHECK_ERROR(e)                                                                        \
	FUZZ_CHECK((e) && (e)->code > 0 && (e)->msg && *(e)->msg, "failure without a proper error")

#endif
