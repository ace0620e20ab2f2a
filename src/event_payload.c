/*-------------------------------------------------------------------------
 *
 * event_payload.c
 *		The NOTIFY payload of an event: the same bytes whether the writing
 *		transaction sends it at commit (events.c) or the relay sends it
 *		after the commit (relay.c).
 *
 * A compact JSON object with ids, kind, time and the event's own members;
 * personal data never enters an event.  Its size is bounded by
 * construction, far below PostgreSQL's limit (about 8000 bytes, past which
 * NOTIFY raises an error): the fixed fields are short, and the event's own
 * members are copied only up to NOTIFY_MEMBERS_MAX bytes; a larger payload
 * is announced with "truncated": true and read from the outbox with
 * events_since().
 *
 * IDENTIFICATION
 *		src/event_payload.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/datetime.h"
#include "utils/json.h"

#include "dispatch.h"

/* most bytes of an event's own members copied into its payload */
#define NOTIFY_MEMBERS_MAX		1024

static void
append_id(StringInfo buf, const char *key, int64 id)
{
	if (id > 0)
		appendStringInfo(buf, ",\"%s\":" INT64_FORMAT, key, id);
}

/*
 * The NOTIFY payload of an event, appended to buf: the same bytes whether
 * the writer sends it at commit or the relay sends it later (relay.c).
 * payload_json is the event's own JSON object (or NULL).
 */
void
dispatch_event_payload(StringInfo buf, int64 seq, const char *kind,
					   int64 zone_id, int64 order_id, int64 customer_id,
					   int64 rider_id, TimestampTz at, const char *payload_json)
{
	char		tbuf[MAXDATELEN + 1];
	int			tz = 0;
	const char *p = payload_json ? payload_json : "{}";
	size_t		len;

	appendStringInfo(buf, "{\"seq\":" INT64_FORMAT ",\"kind\":", seq);
	escape_json(buf, kind);
	append_id(buf, "zone", zone_id);
	append_id(buf, "order", order_id);
	append_id(buf, "customer", customer_id);
	append_id(buf, "rider", rider_id);
	appendStringInfo(buf, ",\"at\":\"%s\"",
					 JsonEncodeDateTime(tbuf, TimestampTzGetDatum(at),
										TIMESTAMPTZOID, &tz));

	/* splice in the members of the payload object */
	while (*p == ' ')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\n'))
		len--;
	if (len > 2 && p[0] == '{' && p[len - 1] == '}')
	{
		if (len - 2 <= NOTIFY_MEMBERS_MAX)
		{
			appendStringInfoChar(buf, ',');
			appendBinaryStringInfo(buf, p + 1, len - 2);
		}
		else
			appendStringInfoString(buf, ",\"truncated\":true");
	}
	appendStringInfoChar(buf, '}');
}
