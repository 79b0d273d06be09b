/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

static int log_fd = -1;
static char log_prefix[192];

void cni_log_open(const char *path, const char *plugin, const char *verb, const char *container_id)
{
	/* O_APPEND keeps concurrent plugin processes' lines whole; never follow a planted link. */
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		      0600);
	if (log_fd < 0)
		return;
	snprintf(log_prefix, sizeof(log_prefix), "%d %s %s %s", (int)getpid(), plugin, verb,
		 container_id ? container_id : "-");
}

void cni_log(const char *fmt, ...)
{
	char line[4097];
	struct timespec ts;
	struct tm tm;
	int n;
	va_list ap;

	if (log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s: ", tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, log_prefix);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - 1 - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write per line so lines from concurrent plugins never interleave. */
	(void)!write(log_fd, line, (size_t)n);
}

void cni_log_close(void)
{
	if (log_fd >= 0)
		(void)close(log_fd);
	log_fd = -1;
}
