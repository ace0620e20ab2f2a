/*-------------------------------------------------------------------------
 *
 * gateway.c
 *		The reference push gateway: dispatch's outbox to an MQTT broker.
 *
 * It LISTENs on dispatch_events (not on a standby, which refuses LISTEN:
 * there it reads every --poll ms until the server is promoted), reads
 * the outbox with dispatch.events_since(after_seq, max) (NOTIFY only
 * wakes it), and publishes every event, with QoS 1, on
 * <prefix>/customer/<id> and <prefix>/rider/<id> (an event that names
 * neither: <prefix>/zone/<id>).
 * After the broker has acknowledged every message of a batch, the last
 * seq of the batch is written to the state file (a temporary file,
 * fsync, rename, fsync of the directory): after any failure (the gateway
 * killed, the database or the broker gone) it starts again from there, so
 * every event is published at least once, in outbox order (a zone's
 * order, with --zone), and none is skipped (docs/gateway.md).  With --zone it forwards the events of the
 * zones listed and keeps a cursor per zone (events_since(after, max, zone);
 * the state file then holds one "zone seq" line per zone, or the bare seq
 * for one zone, as before lists existed): on Citus each zone's events are
 * numbered on its worker and that worker's relay notifies, so a gateway
 * connects to the worker that holds its zones (or polls the coordinator
 * with a short --poll: nothing notifies there) (docs/citus.md).  A
 * notification names its zone and seq: only that zone is read then (again
 * every 50 ms while the notified seq is not handed out yet, for --poll ms
 * at most), every zone after --poll ms without one and after every
 * reconnection.  Zones are read in rounds, a batch of each due zone per
 * round, so that one zone's backlog does not hold up the others.  --help
 * says how to run it.
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
"            [--batch N] [--zone ID[,ID...]] [--poll MS] [--once]\n"
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
"OPTIONS (each also from the environment variable in brackets; N and MS in\n"
"digits only, within the range given: anything else exits 2)\n"
"    --db CONNINFO      libpq connection string [GATEWAY_DB]; empty: the PG*\n"
"                       variables\n"
"    --broker HOST      MQTT broker [GATEWAY_BROKER], default localhost\n"
"    --port N           its port [GATEWAY_PORT], default 1883 (8883 with TLS)\n"
"    --prefix P         topic prefix [GATEWAY_PREFIX], default dispatch; UTF-8\n"
"                       without control characters, + or # (exit 2 otherwise)\n"
"    --state FILE       state file [GATEWAY_STATE], default ./gateway.state\n"
"    --cafile FILE      TLS to the broker, trusting this CA [GATEWAY_CAFILE]\n"
"    --cert FILE        client certificate for TLS [GATEWAY_CERT]\n"
"    --key FILE         its key [GATEWAY_KEY]\n"
"    --username U       broker user [GATEWAY_USERNAME]; the password only from\n"
"                       GATEWAY_PASSWORD\n"
"    --client-id ID     MQTT client id [GATEWAY_CLIENT_ID], default\n"
"                       dispatch-gateway-HOST-PID-RANDOM (a broker closes a\n"
"                       connection when another connects with its id: give\n"
"                       each gateway its own)\n"
"    --batch N          events per batch [GATEWAY_BATCH], 1..100000, default 1000\n"
"    --zone ID[,ID...]  only these zones' events [GATEWAY_ZONE], with a cursor\n"
"                       per zone (see STATE FILE); zone ids separated by\n"
"                       commas, each once.  A notification wakes the reading\n"
"                       of its zone; each zone due is read a batch per round,\n"
"                       so that one zone's backlog holds up no other.  On\n"
"                       Citus, where a zone's events are numbered on its\n"
"                       worker, list zones of one worker and connect to that\n"
"                       worker (docs/citus.md)\n"
"    --poll MS          read every zone at least every MS ms without a\n"
"                       wake-up [GATEWAY_POLL_MS], 10..60000, default 5000;\n"
"                       on a Citus coordinator nothing notifies: use a\n"
"                       short one there.  A standby refuses LISTEN: there\n"
"                       the gateway reads every MS ms, and LISTENs once\n"
"                       it finds the server promoted\n"
"    --once             catch up, then exit 0 (no LISTEN); two attempts, 1 s\n"
"                       apart, then it gives up: exit 3 (the database failed)\n"
"                       or 4 (the broker failed); see EXIT STATUS\n"
"    --help             this text\n"
"\n"
"STATE FILE\n"
"    Without --zone or with one zone: one line, the last seq forwarded.  With\n"
"    several zones: a line \"ZONE SEQ\" per zone.  Either form is written\n"
"    atomically (temporary file, fsync, rename) once the broker has\n"
"    acknowledged a batch.  A gateway of one zone also reads a file of the\n"
"    second form that names only its zone.  A zone the file does not name\n"
"    starts at 0 (its whole outbox).  Refused (exit 2): a file naming a zone\n"
"    that --zone does not list (remove its line to drop that zone's cursor),\n"
"    a zone named twice, a bare seq with several zones (write it as\n"
"    \"ZONE SEQ\" for the zone it belongs to), zone lines without --zone, and\n"
"    anything else that is not one of the two forms.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT: finish the batch in flight, save the state, exit 0.  The\n"
"    broker's acknowledgements of that batch are waited for 5 s at most; if\n"
"    they do not all come (a hung broker) the batch is not saved, and is\n"
"    published again at the next start.\n"
"\n"
"EXIT STATUS\n"
"    0 after a signal or --once; 3 or 4 when --once gives up, the database\n"
"    (3: it cannot be reached, or events_since failed) or the broker (4)\n"
"    having failed its two attempts; 2 on bad arguments (a numeric flag that\n"
"    is not a whole number in its range, an empty item, a non-number or a\n"
"    zone given twice in --zone, and a zone of --zone that the database does\n"
"    not have) or an unusable state file, one that cannot be\n"
"    read or one that cannot be saved (its directory missing or read-only:\n"
"    checked before anything is published); 1 if saving it fails later.\n"
"\n"
"LOG\n"
"    One line per event worth knowing (connections, catch-ups, errors) on\n"
"    standard error; never an event's content.\n";

/* one cursor: a zone of --zone, or every zone without it */
typedef struct Zone
{
	int64_t		id;				/* -1: every zone (no --zone) */
	char		text[24];		/* the id as passed to events_since */
	int64_t		seq;			/* the last seq the broker acknowledged */
	int64_t		notified;		/* the highest seq notified and not read yet
								 * (0: none) */
	int64_t		notified_at;	/* since when (now_ms()) */
	bool		due;			/* to be read in the next rounds */
} Zone;

/*
 * A zone read after a notification that does not reach the notified seq
 * (with dispatch.notify = commit a writer notifies before events_since may
 * hand its event out, while an older transaction runs) is read again this
 * often, until it does; after --poll ms the full reads take over.
 */
#define HELD_RETRY_MS	50

/*
 * After SIGTERM or SIGINT, how long the acknowledgements of the batch in
 * flight are waited for (then it exits without saving that batch).
 */
#define STOP_WAIT_MS	5000

/*
 * With --once, how many attempts (connections to the database and the
 * broker, and the reading and publishing that follow) are made before it
 * gives up, 1 s apart; and its exit statuses then.
 */
#define ONCE_TRIES		2
#define EXIT_DB			3
#define EXIT_BROKER		4

/*
 * Room after the prefix in a topic: "/customer/" and an id of at most 20
 * characters (the longest of the three kinds of topic), and the final NUL.
 */
#define TOPIC_ROOM	32

typedef struct Options
{
	const char *db;
	const char *broker;
	int			port;
	const char *prefix;
	char	   *topic;			/* room for PREFIX/customer/ID and the like */
	const char *state;
	const char *cafile;
	const char *cert;
	const char *key;
	const char *username;
	const char *password;
	const char *client_id;
	int			batch;
	const char *zone;			/* --zone as given; NULL: every zone */
	Zone	   *zones;			/* the cursors: one per zone of --zone, or one */
	int			nzones;
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

/* milliseconds of a clock that only goes forward */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/*
 * A whole number of digits only at *p, at most INT64_MAX; *p moves past it.
 * False (and *p unmoved) if there is none or it is too large.
 */
static bool
parse_number(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t		n = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
	{
		if (n > (INT64_MAX - (*s - '0')) / 10)
			return false;
		n = n * 10 + (*s - '0');
	}
	*p = s;
	*v = n;
	return true;
}

/* The cursor of zone id, or NULL if --zone does not list it. */
static Zone *
zone_find(const Options *o, int64_t id)
{
	int			i;

	for (i = 0; i < o->nzones; i++)
		if (o->zones[i].id == id)
			return &o->zones[i];
	return NULL;
}

/*
 * Read the state file into the cursors (all 0 without a file).  Returns
 * NULL, or why the file is unusable (the caller exits 2): the forms and
 * what is refused are those of --help, STATE FILE.
 */
static const char *
state_read(Options *o)
{
	static char why[4096 + 256];
	FILE	   *f = fopen(o->state, "r");
	char		line[256];
	int			lineno = 0;
	int			bare = 0,
				pairs = 0;
	int64_t		bare_seq = 0;
	int			i;

	for (i = 0; i < o->nzones; i++)
		o->zones[i].seq = 0;
	if (f == NULL && errno == ENOENT)
		return NULL;
	if (f == NULL)
	{
		snprintf(why, sizeof(why), "cannot read the state file %s: %s", o->state, strerror(errno));
		return why;
	}
	/* every seen flag off: "due" marks the zones the file named meanwhile */
	for (i = 0; i < o->nzones; i++)
		o->zones[i].due = false;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		const char *p = line;
		int64_t		a,
					b;
		bool		two;
		Zone	   *z;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
		{
			snprintf(why, sizeof(why), "the state file %s: line %d is too long", o->state, lineno);
			goto bad;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0')
			continue;			/* a blank line */
		if (!parse_number(&p, &a))
		{
			snprintf(why, sizeof(why), "the state file %s: line %d is neither \"SEQ\" nor \"ZONE SEQ\"",
					 o->state, lineno);
			goto bad;
		}
		two = (*p == ' ' || *p == '\t');
		while (*p == ' ' || *p == '\t')
			p++;
		if (two && *p != '\n' && *p != '\0')
		{
			if (!parse_number(&p, &b))
			{
				snprintf(why, sizeof(why), "the state file %s: line %d is neither \"SEQ\" nor \"ZONE SEQ\"",
						 o->state, lineno);
				goto bad;
			}
			while (*p == ' ' || *p == '\t')
				p++;
		}
		else
			two = false;
		if (*p != '\n' && *p != '\0')
		{
			snprintf(why, sizeof(why), "the state file %s: line %d is neither \"SEQ\" nor \"ZONE SEQ\"",
					 o->state, lineno);
			goto bad;
		}
		if (!two)
		{
			bare++;
			bare_seq = a;
			continue;
		}
		pairs++;
		if (o->zone == NULL)
		{
			snprintf(why, sizeof(why), "the state file %s names zones (line %d: zone %" PRId64
					 "): it is a state file of a gateway with --zone", o->state, lineno, a);
			goto bad;
		}
		if ((z = zone_find(o, a)) == NULL)
		{
			snprintf(why, sizeof(why), "the state file %s holds a cursor of zone %" PRId64
					 ", which --zone does not list; list the zone, or remove its line to drop its cursor",
					 o->state, a);
			goto bad;
		}
		if (z->due)
		{
			snprintf(why, sizeof(why), "the state file %s names zone %" PRId64 " twice", o->state, a);
			goto bad;
		}
		z->due = true;
		z->seq = b;
	}
	if (ferror(f))
	{
		snprintf(why, sizeof(why), "cannot read the state file %s: %s", o->state, strerror(errno));
		goto bad;
	}
	fclose(f);
	if (bare + pairs == 0)
	{
		snprintf(why, sizeof(why), "the state file %s is empty (it holds no seq)", o->state);
		return why;
	}
	if (bare > 0 && (bare > 1 || pairs > 0))
	{
		snprintf(why, sizeof(why), "the state file %s mixes a bare seq with other lines", o->state);
		return why;
	}
	if (bare == 1 && o->nzones > 1)
	{
		snprintf(why, sizeof(why), "the state file %s holds one seq without a zone, and --zone lists %d zones: "
				 "write it as \"ZONE SEQ\" for the zone it belongs to", o->state, o->nzones);
		return why;
	}
	if (bare == 1)
		o->zones[0].seq = bare_seq;
	return NULL;
bad:
	fclose(f);
	return why;
}

/*
 * Write the state atomically: temporary file, fsync, rename, fsync dir.
 * One cursor: its seq alone, as the gateway always wrote it; several: a
 * "zone seq" line each.
 */
static bool
state_write(const Options *o)
{
	char		tmp[4096];
	char		dirbuf[4096];
	char	   *text;
	size_t		cap = (size_t) o->nzones * 48 + 1;
	int			fd,
				dfd,
				len = 0,
				i;

	text = malloc(cap);
	if (text == NULL)
	{
		logf_("out of memory");
		exit(1);
	}
	if (o->nzones == 1)
		len = snprintf(text, cap, "%" PRId64 "\n", o->zones[0].seq);
	else
		for (i = 0; i < o->nzones; i++)
			len += snprintf(text + len, cap - len, "%" PRId64 " %" PRId64 "\n",
							o->zones[i].id, o->zones[i].seq);
	snprintf(tmp, sizeof(tmp), "%s.tmp", o->state);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, len) != len || fsync(fd) != 0)
	{
		logf_("cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(text);
		return false;
	}
	free(text);
	close(fd);
	if (rename(tmp, o->state) != 0)
	{
		logf_("cannot rename %s: %s", tmp, strerror(errno));
		return false;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s", o->state);
	dfd = open(dirname(dirbuf), O_RDONLY);
	if (dfd >= 0)
	{
		(void) fsync(dfd);
		close(dfd);
	}
	return true;
}

/*
 * Whether the state file can be saved where --state puts it: its temporary
 * file is created, synced and removed (the state file itself is left as
 * it is).  NULL, or why not (the caller exits 2).  Checked at the start:
 * a state file that cannot be written (its directory missing or read-only)
 * would otherwise be found out only after the first batch was published,
 * from seq 0 if the directory is missing, and the gateway, exiting then,
 * would publish that batch again at every restart.
 */
static const char *
state_probe(const Options *o)
{
	static char why[4096 + 256];
	char		tmp[4096];
	int			fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", o->state) >= (int) sizeof(tmp))
	{
		snprintf(why, sizeof(why), "the state file's path is too long: %s", o->state);
		return why;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || fsync(fd) != 0)
	{
		snprintf(why, sizeof(why), "cannot save the state file %s (its temporary file %s: %s)",
				 o->state, tmp, strerror(errno));
		if (fd >= 0)
		{
			close(fd);
			(void) unlink(tmp);
		}
		return why;
	}
	close(fd);
	if (unlink(tmp) != 0)
	{
		snprintf(why, sizeof(why), "cannot save the state file %s (cannot remove its temporary file %s: %s)",
				 o->state, tmp, strerror(errno));
		return why;
	}
	return NULL;
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
	for (i = 0; i < 100 && !p->connected && !stop_requested; i++)
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (!p->connected)
	{
		mosquitto_destroy(m);
		return NULL;
	}
	logf_("connected to the broker %s:%d as %s", o->broker, o->port, o->client_id);
	return m;
}

/*
 * Run the client until nothing is pending; false if the broker went away,
 * or acknowledged nothing for a minute.  The minute is of the clock, since
 * the last acknowledgement: a call of the client's loop returns as soon as
 * any packet arrives, so with a window of messages in flight a long batch
 * takes many calls while the broker keeps acknowledging.  After SIGTERM or
 * SIGINT it waits STOP_WAIT_MS at most: a broker that hangs (connected,
 * acknowledging nothing) would otherwise hold the stop for a minute, longer
 * than a supervisor waits before SIGKILL; the batch is then not saved, and
 * published again at the next start.
 */
static bool
broker_drain(struct mosquitto *m, Pending *p)
{
	int64_t		acked_at = now_ms();
	int64_t		stop_at = 0;
	int			left = p->n;

	while (p->n > 0)
	{
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS || !p->connected)
			return false;
		if (stop_requested && stop_at == 0)
			stop_at = now_ms();
		if (stop_at != 0 && p->n > 0 && now_ms() - stop_at > STOP_WAIT_MS)
		{
			logf_("stopping: %d messages still unacknowledged %d s after the signal; the batch is "
				  "not saved (it is published again at the next start)", p->n, STOP_WAIT_MS / 1000);
			return false;
		}
		if (p->n < left)
		{
			left = p->n;
			acked_at = now_ms();
		}
		else if (now_ms() - acked_at > 60000)
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

/*
 * LISTEN on dispatch_events, unless the server is in recovery: a standby
 * refuses LISTEN (SQLSTATE 25006) and would send no notification anyway,
 * so there the gateway reads every --poll ms instead.  *listening says
 * which; false if the database failed.
 */
static bool
db_listen(PGconn *db, bool *listening)
{
	PGresult   *r;
	const char *state;
	bool		recovery;

	r = PQexec(db, "SELECT pg_catalog.pg_is_in_recovery()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
	{
		logf_("cannot ask the server whether it is a standby: %s", PQerrorMessage(db));
		PQclear(r);
		return false;
	}
	recovery = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	*listening = false;
	if (recovery)
		return true;
	r = PQexec(db, "LISTEN dispatch_events");
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		*listening = true;
	else if ((state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) == NULL ||
			 strcmp(state, "25006") != 0)
	{
		/* 25006 is refused as on a standby: poll; anything else fails */
		logf_("cannot LISTEN: %s", PQerrorMessage(db));
		PQclear(r);
		return false;
	}
	PQclear(r);
	return true;
}

static PGconn *
db_connect(const Options *o, bool *listening)
{
	PGconn	   *c = PQconnectdb(o->db);
	PGresult   *r;

	*listening = false;
	if (PQstatus(c) != CONNECTION_OK)
	{
		logf_("cannot connect to the database: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, "SET application_name = 'dispatch-gateway'");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		logf_("cannot set application_name: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	if (o->once)
		logf_("connected to the database");
	else if (!db_listen(c, listening))
	{
		PQfinish(c);
		return NULL;
	}
	else if (*listening)
		logf_("connected to the database, listening on dispatch_events");
	else
		logf_("connected to the database, a standby: it sends no notifications, reading every %d ms (--poll)",
			  o->poll_ms);
	return c;
}

/*
 * Forward one batch of zone z after its cursor; returns the rows read (0:
 * caught up), -1 if the database failed, -2 if the broker did.  The cursor
 * moves only once the broker has acknowledged the whole batch and the
 * state is saved.
 */
static int
forward_batch(PGconn *db, struct mosquitto *m, Pending *p, const Options *o, Zone *z)
{
	static const char *sql =
	"SELECT e.seq, e.zone_id, e.customer_id, e.rider_id,"
	"       (pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object("
	"            'seq', e.seq, 'kind', e.kind, 'zone', e.zone_id, 'order', e.order_id,"
	"            'customer', e.customer_id, 'rider', e.rider_id, 'at', e.at))"
	"        OPERATOR(pg_catalog.||) COALESCE(e.payload, '{}'::pg_catalog.jsonb))::pg_catalog.text"
	"  FROM dispatch.events_since($1, $2, $3) e";
	char		after[32],
				limit[16];
	char	   *topic = o->topic;
	size_t		tsize = strlen(o->prefix) + TOPIC_ROOM;
	const char *params[3] = {after, limit, z->id < 0 ? NULL : z->text};
	PGresult   *r;
	const char *state;
	int			rows,
				i;
	int64_t		last = z->seq;

	snprintf(after, sizeof(after), "%" PRId64, z->seq);
	snprintf(limit, sizeof(limit), "%d", o->batch);
	r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
		(state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) != NULL && strcmp(state, "DP016") == 0)
	{
		/* a zone of --zone that does not exist: no retry will find it */
		logf_("--zone lists zone %s, which does not exist: %s", z->text, PQerrorMessage(db));
		PQclear(r);
		exit(2);
	}
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
			snprintf(topic, tsize, "%s/customer/%s", o->prefix, PQgetvalue(r, i, 2));
			ok = ok && broker_publish(m, p, topic, payload);
			sent = true;
		}
		if (!PQgetisnull(r, i, 3))
		{
			snprintf(topic, tsize, "%s/rider/%s", o->prefix, PQgetvalue(r, i, 3));
			ok = ok && broker_publish(m, p, topic, payload);
			sent = true;
		}
		if (!sent)
		{
			snprintf(topic, tsize, "%s/zone/%s", o->prefix, PQgetvalue(r, i, 1));
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
	z->seq = last;
	if (!state_write(o))
		exit(1);
	return rows;
}

/*
 * The zone a notification's payload names, or -1 if it names none that can
 * be read; *seq is the event's seq (0 if it cannot be read).  The payload
 * begins {"seq":N,"kind":"K","zone":Z (event_payload.c; "zone" is left out
 * for a zone id of 0 or less); anything else, -1.
 */
static int64_t
payload_zone(const char *s, int64_t *seq)
{
	int64_t		v;

	*seq = 0;
	if (strncmp(s, "{\"seq\":", 7) != 0)
		return -1;
	s += 7;
	if (!parse_number(&s, seq) || strncmp(s, ",\"kind\":\"", 9) != 0)
		return -1;
	for (s += 9; *s != '"'; s++)
	{
		if (*s == '\0')
			return -1;
		if (*s == '\\' && *++s == '\0')
			return -1;
	}
	s++;
	if (strncmp(s, ",\"zone\":", 8) != 0)
		return -1;
	s += 8;
	if (!parse_number(&s, &v) || (*s != ',' && *s != '}'))
		return -1;
	return v;
}

/*
 * Take the notifications libpq holds: each marks its zone due, and
 * remembers its seq (a payload whose zone cannot be read marks every zone:
 * none may be missed); one of a zone not listed is none of ours.  True if
 * one marked a zone.
 */
static bool
take_notifications(PGconn *db, Options *o)
{
	PGnotify   *n;
	bool		woken = false;
	int			i;

	while ((n = PQnotifies(db)) != NULL)
	{
		int64_t		seq;
		int64_t		zone = payload_zone(n->extra, &seq);
		Zone	   *z;

		if (o->zone == NULL)
			z = &o->zones[0];	/* the one cursor of every zone */
		else if (zone < 0)
		{
			/* whose it is cannot be told: every zone */
			for (i = 0; i < o->nzones; i++)
				o->zones[i].due = true;
			woken = true;
			z = NULL;
		}
		else
			z = zone_find(o, zone); /* NULL: a zone not listed */
		if (z != NULL)
		{
			z->due = true;
			if (seq > z->seq && seq > z->notified)
			{
				if (z->notified <= z->seq)
					z->notified_at = now_ms();
				z->notified = seq;
			}
			woken = true;
		}
		PQfreemem(n);
	}
	return woken;
}

/*
 * The zones whose notified seq has not been read yet: with mark, mark them
 * due.  One held for longer than --poll ms is left to the full reads (its
 * event may never come: removed meanwhile, or numbered by another node).
 * True if there is one.
 */
static bool
held_zones(Options *o, bool mark)
{
	bool		held = false;
	int64_t		now = now_ms();
	int			i;

	for (i = 0; i < o->nzones; i++)
	{
		Zone	   *z = &o->zones[i];

		if (z->notified <= z->seq)
			continue;
		if (now - z->notified_at > o->poll_ms)
		{
			z->notified = 0;
			continue;
		}
		if (mark)
			z->due = true;
		held = true;
	}
	return held;
}

/*
 * Read the due zones in rounds, a batch of each per round, until each has
 * come back empty; the notifications that arrive meanwhile add their zones
 * to the next round.  0, or -1 if the database failed, -2 if the broker did.
 */
static int
catch_up(PGconn *db, struct mosquitto *m, Pending *p, Options *o)
{
	bool		more = true;
	int			i,
				rows;

	while (more && !stop_requested)
	{
		more = false;
		for (i = 0; i < o->nzones && !stop_requested; i++)
		{
			Zone	   *z = &o->zones[i];

			if (!z->due)
				continue;
			if ((rows = forward_batch(db, m, p, o, z)) < 0)
				return rows;
			if (rows == 0)
				z->due = false;
			else
				more = true;
		}
		if (!o->once)
		{
			if (!PQconsumeInput(db))
			{
				logf_("lost the database: %s", PQerrorMessage(db));
				return -1;
			}
			if (take_notifications(db, o))
				more = true;
		}
	}
	return 0;
}

typedef enum WaitResult
{
	WAIT_WOKEN,					/* a notification marked zones due */
	WAIT_TIMEOUT,				/* the deadline passed (or a stop was asked) */
	WAIT_LOST,					/* the database failed */
	WAIT_BROKER_LOST			/* the broker connection failed */
} WaitResult;

/*
 * Wait until a notification marks one of our zones due, or until the
 * deadline (now_ms()); the broker connection is kept alive meanwhile, and
 * a broker connection lost meanwhile (the broker restarted, or silent for
 * its keepalive) is reported at once, to be made again before an event
 * needs it, not found out by the next publish.
 */
static WaitResult
db_wait(PGconn *db, struct mosquitto *m, Pending *p, Options *o, int64_t deadline)
{
	int			sock = PQsocket(db);
	fd_set		in;
	struct timeval tv;
	int64_t		left;

	while ((left = deadline - now_ms()) > 0 && !stop_requested)
	{
		FD_ZERO(&in);
		FD_SET(sock, &in);
		if (left > 100)
			left = 100;
		tv.tv_sec = 0;
		tv.tv_usec = left * 1000;
		if (select(sock + 1, &in, NULL, NULL, &tv) < 0)
		{
			if (errno != EINTR)
				return WAIT_LOST;
		}
		else if (FD_ISSET(sock, &in))
		{
			if (!PQconsumeInput(db))
				return WAIT_LOST;
			if (take_notifications(db, o))
				return WAIT_WOKEN;
		}
		/* keep the broker connection alive meanwhile */
		if (mosquitto_loop(m, 0, 1) != MOSQ_ERR_SUCCESS || !p->connected)
			return WAIT_BROKER_LOST;
	}
	return PQstatus(db) == CONNECTION_OK ? WAIT_TIMEOUT : WAIT_LOST;
}

/* ----------------------------------------------------------------- main */

/* --zone's list into o->zones; a bad list exits 2, saying why. */
static void
parse_zones(Options *o)
{
	const char *p = o->zone;
	int			cap = 1;
	const char *q;

	for (q = p; *q; q++)
		cap += (*q == ',');
	o->zones = calloc(cap, sizeof(Zone));
	if (o->zones == NULL)
	{
		fputs("gateway: out of memory\n", stderr);
		exit(1);
	}
	o->nzones = 0;
	for (;;)
	{
		const char *start = p;
		int64_t		id;
		Zone	   *z;

		if (*p == ',' || *p == '\0')
		{
			fprintf(stderr, "gateway: --zone \"%s\" has an empty item; it takes zone ids separated by "
					"commas (3 or 3,7,9); see --help\n", o->zone);
			exit(2);
		}
		if (!parse_number(&p, &id) || (*p != ',' && *p != '\0'))
		{
			int			len = (int) strcspn(start, ",");

			fprintf(stderr, "gateway: --zone \"%s\": \"%.*s\" is not a zone id (a whole number); "
					"see --help\n", o->zone, len, start);
			exit(2);
		}
		if (zone_find(o, id) != NULL)
		{
			fprintf(stderr, "gateway: --zone \"%s\" lists zone %" PRId64 " twice; see --help\n",
					o->zone, id);
			exit(2);
		}
		z = &o->zones[o->nzones++];
		z->id = id;
		snprintf(z->text, sizeof(z->text), "%" PRId64, id);
		if (*p == '\0')
			break;
		p++;					/* past the comma */
	}
}

/*
 * The buffer of topics, sized for --prefix, and the check that topics with
 * it are topics: MQTT allows 65535 bytes of UTF-8 without control
 * characters (and without + or # in a topic one publishes on).  The client
 * library refuses any other publish, which the gateway would take for a
 * lost broker, reconnecting for ever; a bad prefix exits 2 here instead.
 */
static void
check_prefix(Options *o)
{
	size_t		size = strlen(o->prefix) + TOPIC_ROOM;
	int			len;

	o->topic = malloc(size);
	if (o->topic == NULL)
	{
		fputs("gateway: out of memory\n", stderr);
		exit(1);
	}
	len = snprintf(o->topic, size, "%s/customer/%" PRId64, o->prefix, INT64_MIN);
	if (*o->prefix == '\0' || len >= (int) size ||
		mosquitto_validate_utf8(o->topic, len) != MOSQ_ERR_SUCCESS ||
		mosquitto_pub_topic_check2(o->topic, len) != MOSQ_ERR_SUCCESS)
	{
		fputs("gateway: --prefix is not the start of an MQTT topic: it takes UTF-8 without control "
			  "characters, + or #, short enough for a topic of at most 65535 bytes; see --help\n", stderr);
		exit(2);
	}
}

/*
 * The MQTT client id without --client-id: dispatch-gateway-HOST-PID-RANDOM.
 * A broker closes a client's connection when another connects with the
 * same id, so two gateways must never share one: the process id alone is
 * the same for two gateways in two containers (each process 1 of its own
 * PID namespace, often with the host's name), and they would close each
 * other's connection at every reconnection.
 */
static const char *
default_client_id(void)
{
	static char id[128];
	char		host[65] = "";
	uint32_t	r = 0;
	int			fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t) sizeof(r))
		r = (uint32_t) time(NULL) ^ (uint32_t) now_ms() ^ ((uint32_t) getpid() << 16);
	if (fd >= 0)
		close(fd);
	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	snprintf(id, sizeof(id), "dispatch-gateway-%s%s%d-%08" PRIx32,
			 host, host[0] ? "-" : "", (int) getpid(), r);
	return id;
}

/*
 * The value of a numeric flag: digits only (no sign, space, unit or other
 * trailing character), within lo..hi; anything else exits 2 naming the flag
 * and its variable.  atoi() took "100k" for 100, "abc" for 0 and a number
 * beyond an int for whatever its low bits were.
 */
static int
parse_flag_int(const char *flag, const char *env, const char *text, int lo, int hi)
{
	const char *p = text;
	int64_t		v;

	if (!parse_number(&p, &v) || *p != '\0' || v < lo || v > hi)
	{
		fprintf(stderr, "gateway: %s (or %s) \"%s\": it takes a whole number from %d to %d, in digits "
				"only; see --help\n", flag, env, text, lo, hi);
		exit(2);
	}
	return (int) v;
}

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
	const char *port = env_or("GATEWAY_PORT", NULL);
	const char *batch = env_or("GATEWAY_BATCH", "1000");
	const char *poll = env_or("GATEWAY_POLL_MS", "5000");

	o->db = env_or("GATEWAY_DB", "");
	o->broker = env_or("GATEWAY_BROKER", "localhost");
	o->prefix = env_or("GATEWAY_PREFIX", "dispatch");
	o->state = env_or("GATEWAY_STATE", "./gateway.state");
	o->cafile = env_or("GATEWAY_CAFILE", NULL);
	o->cert = env_or("GATEWAY_CERT", NULL);
	o->key = env_or("GATEWAY_KEY", NULL);
	o->username = env_or("GATEWAY_USERNAME", NULL);
	o->password = env_or("GATEWAY_PASSWORD", NULL);
	o->client_id = env_or("GATEWAY_CLIENT_ID", NULL);
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
			case 'i': o->client_id = optarg; break;
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
	o->port = port ? parse_flag_int("--port", "GATEWAY_PORT", port, 1, 65535)
		: (o->cafile ? 8883 : 1883);
	o->batch = parse_flag_int("--batch", "GATEWAY_BATCH", batch, 1, 100000);
	o->poll_ms = parse_flag_int("--poll", "GATEWAY_POLL_MS", poll, 10, 60000);
	if (o->zone)
		parse_zones(o);
	else
	{
		/* one cursor over every zone */
		o->zones = calloc(1, sizeof(Zone));
		if (o->zones == NULL)
		{
			fputs("gateway: out of memory\n", stderr);
			exit(1);
		}
		o->zones[0].id = -1;
		o->nzones = 1;
	}
	if (*o->prefix == '\0' || strpbrk(o->prefix, "#+") != NULL ||
		((o->cert == NULL) != (o->key == NULL)) || (o->cert && !o->cafile))
	{
		fputs("gateway: bad options (a prefix without # or +, "
			  "--cert and --key together and only with --cafile); see --help\n", stderr);
		exit(2);
	}
	if (o->client_id == NULL || *o->client_id == '\0')
		o->client_id = default_client_id();
	check_prefix(o);
}

/* One log line per cursor: what (after seq N, of zone Z) */
static void
log_cursors(const Options *o, const char *what)
{
	int			i;

	for (i = 0; i < o->nzones; i++)
		if (o->zones[i].id < 0)
			logf_("%s after seq %" PRId64 " (state file %s)", what, o->zones[i].seq, o->state);
		else
			logf_("%s after seq %" PRId64 " of zone %s (state file %s)", what,
				  o->zones[i].seq, o->zones[i].text, o->state);
}

int
main(int argc, char **argv)
{
	Options		o;
	Pending		p = {0};
	PGconn	   *db = NULL;
	struct mosquitto *m = NULL;
	const char *why;
	bool		full = true;	/* read every zone in the next round */
	bool		listening = false;	/* LISTENing (false: a standby, or --once) */
	int64_t		next_full = 0;
	int64_t		deadline;
	int			backoff = 1;
	int			failures = 0;	/* with --once, the attempts that failed */
	int			status = 0;
	bool		broker_failed = false;	/* what the last failure was */
	int			i;
	struct sigaction sa;

	parse_options(argc, argv, &o);
	if ((why = state_read(&o)) != NULL || (why = state_probe(&o)) != NULL)
	{
		fprintf(stderr, "gateway: %s\n", why);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mosquitto_lib_init();
	log_cursors(&o, "starting");

	while (!stop_requested)
	{
		int			rc;

		broker_failed = true;
		if (m == NULL && (m = broker_connect(&o, &p)) == NULL)
			goto retry;
		broker_failed = false;
		if (db == NULL)
		{
			if ((db = db_connect(&o, &listening)) == NULL)
				goto retry;
		}
		else if (full && !listening && !o.once)
		{
			/* a standby, read every --poll ms: LISTEN once it is promoted */
			if (!db_listen(db, &listening))
			{
				PQfinish(db);
				db = NULL;
				goto retry;
			}
			if (listening)
				logf_("the server left recovery: listening on dispatch_events");
		}
		backoff = 1;

		/* catch up: every committed event after each due zone's cursor */
		if (full)
			for (i = 0; i < o.nzones; i++)
				o.zones[i].due = true;
		rc = catch_up(db, m, &p, &o);
		if (rc == -1)
		{
			PQfinish(db);
			db = NULL;
			full = true;
			goto retry;
		}
		if (rc == -2)
		{
			broker_failed = true;
			if (stop_requested)
				;				/* gave up the batch in flight to stop */
			else if (o.nzones == 1)
				logf_("lost the broker; publishing again from seq %" PRId64, o.zones[0].seq);
			else
				logf_("lost the broker; publishing again from each zone's saved seq");
			mosquitto_destroy(m);
			m = NULL;
			full = true;
			goto retry;
		}
		if (o.once)
			break;
		if (full)
			next_full = now_ms() + o.poll_ms;
		full = false;

		/*
		 * then wait for a wake-up; read again soon a zone whose notified
		 * event was not there yet, and every zone every --poll ms in any case
		 */
		deadline = next_full;
		if (held_zones(&o, false) && now_ms() + HELD_RETRY_MS < deadline)
			deadline = now_ms() + HELD_RETRY_MS;
		switch (db_wait(db, m, &p, &o, deadline))
		{
			case WAIT_WOKEN:
				break;
			case WAIT_TIMEOUT:
				if (now_ms() >= next_full)
					full = true;
				else
					(void) held_zones(&o, true);
				break;
			case WAIT_LOST:
				logf_("lost the database: %s", PQerrorMessage(db));
				PQfinish(db);
				db = NULL;
				full = true;
				goto retry;
			case WAIT_BROKER_LOST:
				broker_failed = true;
				logf_("lost the broker while idle; connecting again");
				mosquitto_destroy(m);
				m = NULL;
				full = true;
				goto retry;
		}
		continue;
retry:
		if (stop_requested)
			break;
		if (o.once && ++failures >= ONCE_TRIES)
		{
			/* --once is run by cron or a script: give up rather than hang */
			logf_("--once: giving up after %d attempts: %s", failures,
				  broker_failed ? "the broker failed" : "the database failed");
			status = broker_failed ? EXIT_BROKER : EXIT_DB;
			break;
		}
		sleep(backoff);
		backoff = backoff < 16 ? backoff * 2 : 30;
	}
	if (o.nzones == 1 && o.zones[0].id < 0)
		logf_("stopping after seq %" PRId64, o.zones[0].seq);
	else
		log_cursors(&o, "stopping");
	if (db)
		PQfinish(db);
	if (m)
	{
		mosquitto_disconnect(m);
		mosquitto_destroy(m);
	}
	mosquitto_lib_cleanup();
	free(p.mids);
	free(o.zones);
	free(o.topic);
	return status;
}
