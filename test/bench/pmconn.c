/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pmconn: the packet path through a port mapping, timed.
 *
 *   pmconn serve PORT             accept and close TCP connections on
 *                                 0.0.0.0:PORT until killed (the container)
 *   pmconn connect ADDR PORT N    N TCP connections to ADDR:PORT one after
 *                                 another; prints "median_us p90_us errors"
 *
 * Each connection is a new flow, so its SYN goes through the NAT hooks'
 * DNAT lookup (conntrack only remembers established flows): the time from
 * connect() to its completion is the handshake through the mapping, and
 * what grows with the number of mappings shows there.  Connections are
 * closed with an RST (SO_LINGER 0) so no TIME_WAIT piles up.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int serve(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 512) < 0) {
		perror("pmconn: listen");
		return 1;
	}
	for (;;) {
		int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0)
			close(c);
	}
}

static int connect_many(const char *addr, int port, int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	double *t = calloc((size_t)n, sizeof(*t));
	int ok = 0, errors = 0;

	if (!t || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "pmconn: bad address %s\n", addr);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { .tv_sec = 2 };
		double t0;

		if (s < 0)
			return 1;
		/* A lost SYN would retransmit after 1 s: bounded, counted as an error. */
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		t0 = now_us();
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			t[ok++] = now_us() - t0;
		else
			errors++;
		close(s);
	}
	if (ok == 0) {
		printf("- - %d\n", errors);
		return 1;
	}
	qsort(t, (size_t)ok, sizeof(*t), cmp_double);
	printf("%.1f %.1f %d\n", t[ok / 2], t[(ok * 9) / 10], errors);
	free(t);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "connect") == 0)
		return connect_many(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: pmconn serve PORT | pmconn connect ADDR PORT N\n");
	return 2;
}
