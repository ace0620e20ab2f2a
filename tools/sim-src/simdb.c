/*-------------------------------------------------------------------------
 *
 * simdb.c
 *		tools/sim: the databases a run plays in.  Each city strategy and each
 *		replay creates one of its own from the usual libpq environment, with
 *		the extension, and drops it at the end.
 *
 * IDENTIFICATION
 *		tools/sim-src/simdb.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>

#include "libpq-fe.h"
#include "sim.h"

static void
no_notices(void *arg, const char *message)
{
}

/* a connection to the server of the environment, its notices unprinted */
static PGconn *
admin_connect(char *err, int errlen)
{
	PGconn	   *admin = PQconnectdb("");

	if (PQstatus(admin) != CONNECTION_OK)
	{
		if (err)
			snprintf(err, errlen, "%s", PQerrorMessage(admin));
		PQfinish(admin);
		return NULL;
	}
	PQsetNoticeProcessor(admin, no_notices, NULL);
	return admin;
}

/* dbname, created afresh (a leftover of the same name is dropped first) */
bool
sim_create_db(const char *dbname, char *err, int errlen)
{
	PGconn	   *admin = admin_connect(err, errlen);
	PGresult   *r;
	char		sql[256];
	bool		ok;

	if (admin == NULL)
		return false;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
	PQclear(PQexec(admin, sql));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	r = PQexec(admin, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "cannot create the database %s: %s", dbname, PQerrorMessage(admin));
	PQclear(r);
	PQfinish(admin);
	return ok;
}

void
sim_drop_db(const char *dbname)
{
	PGconn	   *admin = admin_connect(NULL, 0);
	char		sql[256];

	if (admin == NULL)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
}

/* a session in dbname with the extension there, warnings only */
PGconn *
sim_connect(const char *dbname, const char *application, char *err, int errlen)
{
	const char *const keys[] = {"dbname", "application_name", NULL};
	const char *const values[] = {dbname, application, NULL};
	PGconn	   *c = PQconnectdbParams(keys, values, 1);
	PGresult   *r;

	if (PQstatus(c) != CONNECTION_OK)
	{
		snprintf(err, errlen, "%s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	r = PQexec(c, "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS dispatch CASCADE");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
	{
		snprintf(err, errlen, "cannot create the extension: %s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		return NULL;
	}
	PQclear(r);
	return c;
}
