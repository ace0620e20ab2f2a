/*-------------------------------------------------------------------------
 *
 * order_lines.c
 *		The item list of an order, read once: dispatch._order_lines().
 *
 * place_order takes its items as a jsonb array of flat lines,
 * {"item_id": n, "qty": n}.  Checking that shape, summing the lines of one
 * item and checking the quantities took four statements over the jsonb in
 * PL/pgSQL, on every order; here it is one pass over the array and one sort,
 * and the lines come back as two arrays, item ids ascending (the order in
 * which place_order takes stock, so that two orders never deadlock on
 * items).
 *
 * A line is an object of exactly the keys item_id and qty, each a whole
 * number written as JSON digits or a string of digits: the text that ->>
 * gives for it must be 1 to 18 digits (an id) or 1 to 9 (a quantity), as
 * the SQL check it replaces required.  Every refusal is DP007.
 *
 * IDENTIFICATION
 *		src/order_lines.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "dispatch.h"
#include "errcodes.h"

typedef struct OrderLine
{
	int64		item_id;
	int64		qty;
} OrderLine;

static void
bad_list(void)
{
	ereport(ERROR,
			errcode(ERRCODE_DP_BAD_ITEM_LIST),
			errmsg("items must be a non-empty array of {\"item_id\": n, \"qty\": n}"),
			errdetail("Each line has these two keys and no other; ids and quantities are whole numbers."));
}

/*
 * The whole number a line's member holds, at most max_digits digits (as
 * the text ->> gives for it); refuses anything else.
 */
static int64
line_number(JsonbContainer *line, const char *key, int max_digits)
{
	JsonbValue *v = getKeyJsonValueFromContainer(line, key, strlen(key), NULL);
	const char *s;
	int			len;
	int64		n = 0;

	if (v == NULL)
		bad_list();
	if (v->type == jbvString)
	{
		s = v->val.string.val;
		len = v->val.string.len;
	}
	else if (v->type == jbvNumeric)
	{
		s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		len = strlen(s);
	}
	else
		bad_list();
	if (len < 1 || len > max_digits)
		bad_list();
	for (int i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			bad_list();
		n = n * 10 + (s[i] - '0');
	}
	return n;
}

static int
line_cmp(const void *a, const void *b)
{
	int64		x = ((const OrderLine *) a)->item_id;
	int64		y = ((const OrderLine *) b)->item_id;

	return (x > y) - (x < y);
}

/*
 * The lines of an item list (NULL for none), one per item (quantities of
 * repeated ids summed), by item id: their number, and the ids and
 * quantities in arrays of that length; DP007 for a list of another shape,
 * or a quantity outside 1..max_qty once summed.
 */
int
dispatch_order_lines_of(Jsonb *items, int32 max_qty, int64 **item_ids, int32 **qtys)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	OrderLine  *lines;
	int			nlines = 0;
	int			n;

	if (items == NULL || !JB_ROOT_IS_ARRAY(items) || JB_ROOT_IS_SCALAR(items) ||
		JB_ROOT_COUNT(items) == 0)
		bad_list();

	lines = palloc(sizeof(OrderLine) * JB_ROOT_COUNT(items));
	it = JsonbIteratorInit(&items->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbContainer *line;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data) ||
			JsonContainerSize(v.val.binary.data) != 2)
			bad_list();
		line = v.val.binary.data;
		lines[nlines].item_id = line_number(line, "item_id", 18);
		lines[nlines].qty = line_number(line, "qty", 9);
		nlines++;
	}

	/* one line per item, by id, the quantities of an id summed */
	qsort(lines, nlines, sizeof(OrderLine), line_cmp);
	n = 0;
	for (int i = 0; i < nlines; i++)
	{
		if (n > 0 && lines[n - 1].item_id == lines[i].item_id)
			lines[n - 1].qty += lines[i].qty;
		else
			lines[n++] = lines[i];
	}

	*item_ids = palloc(sizeof(int64) * n);
	*qtys = palloc(sizeof(int32) * n);
	for (int i = 0; i < n; i++)
	{
		if (lines[i].qty < 1 || lines[i].qty > max_qty)
			ereport(ERROR,
					errcode(ERRCODE_DP_BAD_ITEM_LIST),
					errmsg("item quantities must be between 1 and %d", max_qty));
		(*item_ids)[i] = lines[i].item_id;
		(*qtys)[i] = (int32) lines[i].qty;
	}
	pfree(lines);
	return n;
}

PG_FUNCTION_INFO_V1(dispatch_order_lines);

/*
 * SQL: dispatch._order_lines(items jsonb, max_qty integer,
 *							  OUT item_ids bigint[], OUT qtys integer[])
 *
 * The lines of an item list as dispatch_order_lines_of gives them.
 */
Datum
dispatch_order_lines(PG_FUNCTION_ARGS)
{
	int64	   *item_ids;
	int32	   *qtys;
	int			n = dispatch_order_lines_of(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
											PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1),
											&item_ids, &qtys);
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_order_lines must return a composite");
	desc = BlessTupleDesc(desc);
	values[0] = dispatch_int8_array(item_ids, n);
	values[1] = dispatch_int4_array(qtys, n);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
