/*-------------------------------------------------------------------------
 *
 * gateway.c
 *		The reference push gateway: dispatch's outbox to an MQTT broker.
 *
 * It LISTENs on dispatch_events, reads the outbox with
 * dispatch.events_since(after_seq, max) (NOTIFY only wakes it), and
 * publishes every event, with QoS 1, on <prefix>/customer/<id> and
 * <prefix>/rider/<id> (an event that names neither: <prefix>/zone/<id>).
 * After the broker has acknowledged every message of a batch, the last
 * seq of the batch is written to the state file (a temporary file,
 * fsync, rename, fsync of the directory): after any failure (the gateway
 * killed, the database or the broker gone) it starts again from there, so
 * every event is published at least once, in outbox order, and none is
 * skipped (docs/gateway.md).  With --zone it forwards one zone's events
 * and keeps that zone's cursor: on Citus, where each zone's events are
 * numbered on its worker and that worker's relay notifies, one gateway per
 * zone connects to the zone's worker (or polls the coordinator with a
 * short --poll: nothing notifies there) (docs/citus.md).  --help says how to run
 * it.
 *
 * IDENTIFICATION
 *		tools/gateway.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "libpq-fe.h"

static const char *usage_text =
"NAME\n"
"    gateway - forward dispatch's events to an MQTT broker, at least once, in order\n"
"\n"
"SYNOPSIS\n"
"    gateway [--db CONNINFO] [--broker HOST] [--port N] [--prefix P] [--state FILE]\n"
"            [--cafile FILE [--cert FILE --key FILE]] [--username U] [--client-id ID]\n"
"            [--batch N] [--zone ID] [--poll MS] [--once]\n"
"\n"
"DESCRIPTION\n"
"    Reads the outbox of the dispatch extension with events_since(), woken by\n"
"    LISTEN dispatch_events, and publishes each event as JSON with QoS 1 on\n"
"    PREFIX/customer/ID and PREFIX/rider/ID (PREFIX/zone/ID for an event that\n"
"    names neither customer nor rider).  The last seq the broker acknowledged\n"
"    is kept in the state file; after a restart or a lost connection to the\n"
"    database or the broker the gateway catches up from there.  Events carry\n"
"    ids only, no personal data.\n"
"\n"
"    LISTEN needs a session of its own: connect directly or through a pooler\n"
"    in session mode, never in transaction mode.  The role needs EXECUTE on\n"
"    dispatch.events_since (dispatch_gateway).\n"
"\n"
"OPTIONS (each also from the environment variable in brackets)\n"
"    --db CONNINFO      libpq connection string [GATEWAY_DB]; empty: the PG*\n"
"                       variables\n"
"    --broker HOST      MQTT broker [GATEWAY_BROKER], default localhost\n"
"    --port N           its port [GATEWAY_PORT], default 1883 (8883 with TLS)\n"
"    --prefix P         topic prefix [GATEWAY_PREFIX], default dispatch\n"
"    --state FILE       state file [GATEWAY_STATE], default ./gateway.state\n"
"    --cafile FILE      TLS to the broker, trusting this CA [GATEWAY_CAFILE]\n"
"    --cert FILE        client certificate for TLS [GATEWAY_CERT]\n"
"    --key FILE         its key [GATEWAY_KEY]\n"
"    --username U       broker user [GATEWAY_USERNAME]; the password only from\n"
"                       GATEWAY_PASSWORD\n"
"    --client-id ID     MQTT client id [GATEWAY_CLIENT_ID], default\n"
"                       dispatch-gateway-PID\n"
"    --batch N          events per batch [GATEWAY_BATCH], 1..100000, default 1000\n"
"    --zone ID          only this zone's events [GATEWAY_ZONE]; the state file\n"
"                       is then that zone's cursor.  On Citus, where a zone's\n"
"                       events are numbered on its worker, run one per zone\n"
"                       against the zone's worker (docs/citus.md)\n"
"    --poll MS          look for events at least every MS ms without a\n"
"                       wake-up [GATEWAY_POLL_MS], 10..60000, default 5000;\n"
"                       on a Citus coordinator nothing notifies: use a\n"
"                       short one there\n"
"    --once             catch up, then exit (no LISTEN)\n"
"    --help             this text\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT: finish the batch in flight, save the state, exit 0.\n"
"\n"
"EXIT STATUS\n"
"    0 after a signal or --once; 2 on bad arguments or an unusable state file.\n"
"\n"
"LOG\n"
"    One line per event worth knowing (connections, catch-ups, errors) on\n"
"    standard error; never an event's content.\n";

typedef struct Options
{
	const char *db;
	const char *broker;
	int			port;
	const char *prefix;
	const char *state;
	const char *cafile;
	const char *cert;
	const char *key;
	const char *username;
	const char *password;
	char		client_id[64];
	int			batch;
	const char *zone;			/* NULL: every zone */
	int			poll_ms;
	bool		once;
} Options;

/* what the broker has not acknowledged yet, by message id */
typedef struct Pending
{
	int		   *mids;
	int			n;
	int			cap;
	bool		connected;
} Pending;

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal(int sig)
{
	stop_requested = 1;
}

static void
logf_(const char *fmt,...)
{
	va_list		ap;
	time_t		t = time(NULL);
	char		stamp[32];

	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	fprintf(stderr, "gateway %s: ", stamp);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

/* ---------------------------------------------------------------- state */

/* The last seq forwarded, or 0 without a state file; -1 if it is unusable. */
static int64_t
state_read(const char *path)
{
	FILE	   *f = fopen(path, "r");
	long long	v;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fscanf(f, "%lld", &v) != 1 || v < 0)
		v = -1;
	fclose(f);
	return v;
}

/* Write the state atomically: temporary file, fsync, rename, fsync dir. */
static bool
state_write(const char *path, int64_t seq)
{
	char		tmp[4096];
	char		dirbuf[4096];
	char		line[32];
	int			fd,
				dfd,
				len;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = snprintf(line, sizeof(line), "%" PRId64 "\n", seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, line, len) != len || fsync(fd) != 0)
	{
		logf_("cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	if (rename(tmp, path) != 0)
	{
		logf_("cannot rename %s: %s", tmp, strerror(errno));
		return false;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY);
	if (dfd >= 0)
	{
		(void) fsync(dfd);
		close(dfd);
	}
	return true;
}

/* --------------------------------------------------------------- broker */

static void
on_publish(struct mosquitto *m, void *obj, int mid)
{
	Pending    *p = obj;
	int			i;

	for (i = 0; i < p->n; i++)
		if (p->mids[i] == mid)
		{
			p->mids[i] = p->mids[--p->n];
			return;
		}
}

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	((Pending *) obj)->connected = (rc == 0);
	if (rc != 0)
		logf_("broker refused the connection: %s", mosquitto_connack_string(rc));
}

static void
on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	((Pending *) obj)->connected = false;
}

/* A new client, connected; NULL after a failed attempt. */
static struct mosquitto *
broker_connect(const Options *o, Pending *p)
{
	struct mosquitto *m = mosquitto_new(o->client_id, true, p);
	int			rc;
	int			i;

	if (m == NULL)
		return NULL;
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_disconnect_callback_set(m, on_disconnect);
	mosquitto_max_inflight_messages_set(m, 100);
	if (o->username)
		mosquitto_username_pw_set(m, o->username, o->password);
	if (o->cafile &&
		(rc = mosquitto_tls_set(m, o->cafile, NULL, o->cert, o->key, NULL)) != MOSQ_ERR_SUCCESS)
	{
		logf_("TLS set-up failed: %s", mosquitto_strerror(rc));
		mosquitto_destroy(m);
		return NULL;
	}
	p->connected = false;
	p->n = 0;
	rc = mosquitto_connect(m, o->broker, o->port, 30);
	if (rc != MOSQ_ERR_SUCCESS)
	{
		logf_("cannot connect to the broker %s:%d: %s", o->broker, o->port,
			  rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		mosquitto_destroy(m);
		return NULL;
	}
	for (i = 0; i < 100 && !p->connected; i++)
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (!p->connected)
	{
		mosquitto_destroy(m);
		return NULL;
	}
	logf_("connected to the broker %s:%d", o->broker, o->port);
	return m;
}

/* Run the client until nothing is pending; false if the broker went away. */
static bool
broker_drain(struct mosquitto *m, Pending *p)
{
	int			spins = 0;

	while (p->n > 0)
	{
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS || !p->connected)
			return false;
		if (++spins > 600)		/* a minute without acknowledgements */
		{
			logf_("the broker acknowledged nothing for a minute");
			return false;
		}
	}
	return true;
}

static bool
broker_publish(struct mosquitto *m, Pending *p, const char *topic, const char *payload)
{
	int			mid;

	if (p->n == p->cap)
	{
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->mids = realloc(p->mids, sizeof(int) * p->cap);
		if (p->mids == NULL)
		{
			logf_("out of memory");
			exit(1);
		}
	}
	if (mosquitto_publish(m, &mid, topic, (int) strlen(payload), payload, 1, false) != MOSQ_ERR_SUCCESS)
		return false;
	p->mids[p->n++] = mid;
	/* let the client send and read acknowledgements as it goes */
	return mosquitto_loop(m, 0, 1) == MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------- database */

static PGconn *
db_connect(const Options *o)
{
	PGconn	   *c = PQconnectdb(o->db);
	PGresult   *r;

	if (PQstatus(c) != CONNECTION_OK)
	{
		logf_("cannot connect to the database: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, o->once ? "SET application_name = 'dispatch-gateway'"
			   : "SET application_name = 'dispatch-gateway'; LISTEN dispatch_events");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		logf_("cannot LISTEN: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	logf_("connected to the database%s", o->once ? "" : ", listening on dispatch_events");
	return c;
}

/*
 * Forward one batch after *seq; returns the rows read (0: caught up), -1 if
 * the database failed, -2 if the broker did.  *seq moves only once the
 * broker has acknowledged the whole batch and the state is saved.
 */
static int
forward_batch(PGconn *db, struct mosquitto *m, Pending *p, const Options *o, int64_t *seq)
{
	static const char *sql =
	"SELECT e.seq, e.zone_id, e.customer_id, e.rider_id,"
	"       (pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
	"            'seq', e.seq, 'kind', e.kind, 'zone', e.zone_id, 'order', e.order_id,"
	"            'customer', e.customer_id, 'rider', e.rider_id, 'at', e.at))"
	"        OPERATOR(pg_catalog.||) COALESCE(e.payload, '{}'::pg_catalog.jsonb))::pg_catalog.text"
	"  FROM dispatch.events_since($1, $2, $3) e";
	char		after[32],
				limit[16],
				topic[512];
	const char *params[3] = {after, limit, o->zone};
	PGresult   *r;
	int			rows,
				i;
	int64_t		last = *seq;

	snprintf(after, sizeof(after), "%" PRId64, *seq);
	snprintf(limit, sizeof(limit), "%d", o->batch);
	r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		logf_("events_since failed: %s", PQerrorMessage(db));
		PQclear(r);
		return -1;
	}
	rows = PQntuples(r);
	for (i = 0; i < rows; i++)
	{
		const char *payload = PQgetvalue(r, i, 4);
		bool		sent = false;
		bool		ok = true;

		if (!PQgetisnull(r, i, 2))
		{
			snprintf(topic, sizeof(topic), "%s/customer/%s", o->prefix, PQgetvalue(r, i, 2));
			ok = ok && broker_publish(m, p, topic, payload);
			sent = true;
		}
		if (!PQgetisnull(r, i, 3))
		{
			snprintf(topic, sizeof(topic), "%s/rider/%s", o->prefix, PQgetvalue(r, i, 3));
			ok = ok && broker_publish(m, p, topic, payload);
			sent = true;
		}
		if (!sent)
		{
			snprintf(topic, sizeof(topic), "%s/zone/%s", o->prefix, PQgetvalue(r, i, 1));
			ok = ok && broker_publish(m, p, topic, payload);
		}
		if (!ok)
		{
			PQclear(r);
			return -2;
		}
		last = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	}
	PQclear(r);
	if (rows == 0)
		return 0;
	if (!broker_drain(m, p))
		return -2;
	if (!state_write(o->state, last))
		exit(1);
	*seq = last;
	return rows;
}

/* Wait for a notification (or timeout_ms); false if the database failed. */
static bool
db_wait(PGconn *db, struct mosquitto *m, int timeout_ms)
{
	int			sock = PQsocket(db);
	fd_set		in;
	struct timeval tv;
	PGnotify   *n;
	int			waited = 0;
	int			step;

	while (waited < timeout_ms && !stop_requested)
	{
		FD_ZERO(&in);
		FD_SET(sock, &in);
		step = timeout_ms - waited < 100 ? timeout_ms - waited : 100;
		tv.tv_sec = 0;
		tv.tv_usec = step * 1000;
		if (select(sock + 1, &in, NULL, NULL, &tv) < 0 && errno != EINTR)
			return false;
		if (FD_ISSET(sock, &in))
		{
			if (!PQconsumeInput(db))
				return false;
			if ((n = PQnotifies(db)) != NULL)
			{
				do
					PQfreemem(n);
				while ((n = PQnotifies(db)) != NULL);
				return true;
			}
		}
		/* keep the broker connection alive meanwhile */
		(void) mosquitto_loop(m, 0, 1);
		waited += step;
	}
	return PQstatus(db) == CONNECTION_OK;
}

/* ----------------------------------------------------------------- main */

static void
parse_options(int argc, char **argv, Options *o)
{
	static struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"broker", required_argument, NULL, 'b'},
		{"port", required_argument, NULL, 'p'},
		{"prefix", required_argument, NULL, 'x'},
		{"state", required_argument, NULL, 's'},
		{"cafile", required_argument, NULL, 'C'},
		{"cert", required_argument, NULL, 'E'},
		{"key", required_argument, NULL, 'K'},
		{"username", required_argument, NULL, 'u'},
		{"client-id", required_argument, NULL, 'i'},
		{"batch", required_argument, NULL, 'n'},
		{"zone", required_argument, NULL, 'z'},
		{"poll", required_argument, NULL, 'P'},
		{"once", no_argument, NULL, '1'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	const char *port = getenv("GATEWAY_PORT");
	const char *batch = env_or("GATEWAY_BATCH", "1000");
	const char *poll = env_or("GATEWAY_POLL_MS", "5000");
	char	   *end;

	o->db = env_or("GATEWAY_DB", "");
	o->broker = env_or("GATEWAY_BROKER", "localhost");
	o->prefix = env_or("GATEWAY_PREFIX", "dispatch");
	o->state = env_or("GATEWAY_STATE", "./gateway.state");
	o->cafile = env_or("GATEWAY_CAFILE", NULL);
	o->cert = env_or("GATEWAY_CERT", NULL);
	o->key = env_or("GATEWAY_KEY", NULL);
	o->username = env_or("GATEWAY_USERNAME", NULL);
	o->password = env_or("GATEWAY_PASSWORD", NULL);
	snprintf(o->client_id, sizeof(o->client_id), "%s",
			 env_or("GATEWAY_CLIENT_ID", ""));
	o->zone = env_or("GATEWAY_ZONE", NULL);
	o->once = false;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd': o->db = optarg; break;
			case 'b': o->broker = optarg; break;
			case 'p': port = optarg; break;
			case 'x': o->prefix = optarg; break;
			case 's': o->state = optarg; break;
			case 'C': o->cafile = optarg; break;
			case 'E': o->cert = optarg; break;
			case 'K': o->key = optarg; break;
			case 'u': o->username = optarg; break;
			case 'i': snprintf(o->client_id, sizeof(o->client_id), "%s", optarg); break;
			case 'n': batch = optarg; break;
			case 'z': o->zone = optarg; break;
			case 'P': poll = optarg; break;
			case '1': o->once = true; break;
			case 'h': fputs(usage_text, stdout); exit(0);
			default: fputs("gateway: see --help\n", stderr); exit(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "gateway: unexpected argument \"%s\"; see --help\n", argv[optind]);
		exit(2);
	}
	o->port = port ? atoi(port) : (o->cafile ? 8883 : 1883);
	o->batch = atoi(batch);
	o->poll_ms = atoi(poll);
	if (o->zone && (*o->zone == '\0' || strtoll(o->zone, &end, 10) < 0 || *end != '\0'))
	{
		fputs("gateway: --zone takes a zone id (a whole number); see --help\n", stderr);
		exit(2);
	}
	if (o->poll_ms < 10 || o->poll_ms > 60000)
	{
		fputs("gateway: --poll takes 10..60000 ms; see --help\n", stderr);
		exit(2);
	}
	if (o->port < 1 || o->port > 65535 || o->batch < 1 || o->batch > 100000 ||
		*o->prefix == '\0' || strpbrk(o->prefix, "#+") != NULL ||
		((o->cert == NULL) != (o->key == NULL)) || (o->cert && !o->cafile))
	{
		fputs("gateway: bad options (port 1..65535, batch 1..100000, a prefix without # or +, "
			  "--cert and --key together and only with --cafile); see --help\n", stderr);
		exit(2);
	}
	if (o->client_id[0] == '\0')
		snprintf(o->client_id, sizeof(o->client_id), "dispatch-gateway-%d", (int) getpid());
}

int
main(int argc, char **argv)
{
	Options		o;
	Pending		p = {0};
	PGconn	   *db = NULL;
	struct mosquitto *m = NULL;
	int64_t		seq;
	int			backoff = 1;
	struct sigaction sa;

	parse_options(argc, argv, &o);
	seq = state_read(o.state);
	if (seq < 0)
	{
		fprintf(stderr, "gateway: the state file %s is unreadable or holds no seq\n", o.state);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	if (o.zone)
		logf_("starting after seq %" PRId64 " of zone %s (state file %s)", seq, o.zone, o.state);
	else
		logf_("starting after seq %" PRId64 " (state file %s)", seq, o.state);

	while (!stop_requested)
	{
		int			rows = 0;

		if (m == NULL && (m = broker_connect(&o, &p)) == NULL)
			goto retry;
		if (db == NULL && (db = db_connect(&o)) == NULL)
			goto retry;
		backoff = 1;

		/* catch up: every committed event after seq */
		while (!stop_requested && (rows = forward_batch(db, m, &p, &o, &seq)) > 0)
			;
		if (rows == -1)
		{
			PQfinish(db);
			db = NULL;
			goto retry;
		}
		if (rows == -2)
		{
			logf_("lost the broker; publishing again from seq %" PRId64, seq);
			mosquitto_destroy(m);
			m = NULL;
			goto retry;
		}
		if (o.once)
			break;
		/* then wait for a wake-up; look again every --poll ms in any case */
		if (!db_wait(db, m, o.poll_ms))
		{
			logf_("lost the database: %s", PQerrorMessage(db));
			PQfinish(db);
			db = NULL;
			goto retry;
		}
		continue;
retry:
		if (stop_requested)
			break;
		sleep(backoff);
		backoff = backoff < 16 ? backoff * 2 : 30;
	}
	logf_("stopping after seq %" PRId64, seq);
	if (db)
		PQfinish(db);
	if (m)
	{
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
	}
	mosquitto_lib_cleanup();
	free(p.mids);
	return 0;
}
