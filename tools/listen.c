/*-------------------------------------------------------------------------
 *
 * listen.c
 *		A LISTEN client for dispatch_events, used by the walk-through, the
 *		listener test and the benchmarks.
 *
 *	listen [-c channel] [-n count] [-t idle_seconds]
 *		Print each notification payload on its own line; stop after count
 *		notifications or after idle_seconds without one.  "listening" is
 *		printed on standard error once LISTEN has taken effect.
 *
 *	listen -p probes [-q sql]
 *		Latency probe: from a second connection, commit probes transactions
 *		that each run sql with $1 set to the probe number (the sql must emit
 *		an event whose payload carries "probe": $1), and print the time from
 *		sending COMMIT to receiving the matching notification: p50, p99 and
 *		max in microseconds.
 *
 * Connection settings come from the usual libpq environment (PGHOST,
 * PGPORT, PGUSER, PGDATABASE).
 *
 * IDENTIFICATION
 *		tools/listen.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

static PGconn *connect_or_die(void);
static void exec_or_die(PGconn *conn, const char *sql);
static double now_us(void);
static int	wait_socket(PGconn *conn, double timeout_s);
static int	cmp_double(const void *a, const void *b);
static int	run_probe(PGconn *listener, const char *channel, int probes, const char *sql);

static PGconn *
connect_or_die(void)
{
	PGconn	   *conn = PQconnectdb("");

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listen: %s", PQerrorMessage(conn));
		exit(2);
	}
	return conn;
}

static void
exec_or_die(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "listen: %s: %s", sql, PQerrorMessage(conn));
		exit(2);
	}
	PQclear(res);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* wait until the connection's socket is readable; 0 on timeout */
static int
wait_socket(PGconn *conn, double timeout_s)
{
	int			sock = PQsocket(conn);
	fd_set		fds;
	struct timeval tv;
	int			rc;

	FD_ZERO(&fds);
	FD_SET(sock, &fds);
	tv.tv_sec = (time_t) timeout_s;
	tv.tv_usec = (suseconds_t) ((timeout_s - (double) tv.tv_sec) * 1e6);
	do
		rc = select(sock + 1, &fds, NULL, NULL, &tv);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
	{
		perror("listen: select");
		exit(2);
	}
	return rc;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static int
run_probe(PGconn *listener, const char *channel, int probes, const char *sql)
{
	PGconn	   *writer = connect_or_die();
	double	   *lat = calloc(probes, sizeof(double));
	int			i;

	for (i = 0; i < probes; i++)
	{
		char		num[32];
		const char *params[1] = {num};
		char		want[64];
		double		t0;
		int			got = 0;
		PGresult   *res;

		snprintf(num, sizeof(num), "%d", i + 1);
		snprintf(want, sizeof(want), "\"probe\": %d", i + 1);
		exec_or_die(writer, "BEGIN");
		res = PQexecParams(writer, sql, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "listen: probe: %s", PQerrorMessage(writer));
			exit(2);
		}
		PQclear(res);
		t0 = now_us();
		exec_or_die(writer, "COMMIT");
		while (!got)
		{
			PGnotify   *n;

			if (wait_socket(listener, 10.0) == 0)
			{
				fprintf(stderr, "listen: probe %d not received within 10 s\n", i + 1);
				exit(1);
			}
			PQconsumeInput(listener);
			while ((n = PQnotifies(listener)) != NULL)
			{
				if (strcmp(n->relname, channel) == 0 && strstr(n->extra, want + 1) != NULL)
				{
					/* match "probe":N exactly, with or without a space */
					char		tight[64];

					snprintf(tight, sizeof(tight), "\"probe\":%d", i + 1);
					if (strstr(n->extra, tight) || strstr(n->extra, want))
						got = 1;
				}
				PQfreemem(n);
			}
		}
		lat[i] = now_us() - t0;
	}
	qsort(lat, probes, sizeof(double), cmp_double);
	printf("notify_latency_us probes=%d p50=%.0f p99=%.0f max=%.0f\n",
		   probes, lat[probes / 2], lat[(int) (probes * 0.99) < probes ? (int) (probes * 0.99) : probes - 1],
		   lat[probes - 1]);
	free(lat);
	PQfinish(writer);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *channel = "dispatch_events";
	const char *probe_sql = "SELECT dispatch._emit_event(0, 'probe', NULL, NULL, NULL, jsonb_build_object('probe', $1::int))";
	long		count = -1;
	double		idle = 5.0;
	int			probes = 0;
	long		seen = 0;
	int			c;
	PGconn	   *conn;
	char		sql[256];

	while ((c = getopt(argc, argv, "c:n:t:p:q:")) != -1)
	{
		switch (c)
		{
			case 'c':
				channel = optarg;
				break;
			case 'n':
				count = atol(optarg);
				break;
			case 't':
				idle = atof(optarg);
				break;
			case 'p':
				probes = atoi(optarg);
				break;
			case 'q':
				probe_sql = optarg;
				break;
			default:
				fprintf(stderr, "usage: listen [-c channel] [-n count] [-t idle_seconds] [-p probes [-q sql]]\n");
				return 2;
		}
	}

	conn = connect_or_die();
	{
		char	   *ident = PQescapeIdentifier(conn, channel, strlen(channel));

		snprintf(sql, sizeof(sql), "LISTEN %s", ident);
		PQfreemem(ident);
	}
	exec_or_die(conn, sql);
	fprintf(stderr, "listening\n");

	if (probes > 0)
		return run_probe(conn, channel, probes, probe_sql);

	while (count < 0 || seen < count)
	{
		PGnotify   *n;

		if (wait_socket(conn, idle) == 0)
			break;
		if (!PQconsumeInput(conn))
		{
			fprintf(stderr, "listen: %s", PQerrorMessage(conn));
			return 2;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			printf("%s\n", n->extra);
			fflush(stdout);
			PQfreemem(n);
			seen++;
		}
	}
	PQfinish(conn);
	return 0;
}
