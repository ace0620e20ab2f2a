/*-------------------------------------------------------------------------
 *
 * keys.c
 *		Master and blind-index keys for personal data, read from a file.
 *
 * Keys never travel through SQL text: the server reads them from the file
 * named by the superuser-only setting dispatch.master_key_file, which must
 * be readable by the server's operating-system user alone.  The file holds
 * lines of the form
 *
 *		master <version> <64 hex digits>
 *		index [<version>] <64 hex digits>
 *
 * and '#' comments.  The highest master version is the current one; older
 * versions stay until every data key has been re-wrapped (rotation).  Blind
 * index keys are versioned the same way ("index <hex>" is version 1): the
 * highest computes new indexes, older ones still find the rows indexed
 * under them until rotate_index_key has recomputed every one.  The
 * parsed file is cached in TopMemoryContext and re-read when its path,
 * modification time (to the nanosecond), device, inode, status-change time
 * or size changes (a key replaced by one of the same length within a
 * second, or by a rename, is seen); that it is a regular file of the
 * server's user that no one else may access is checked on every use, and
 * when it is read, on the descriptor it is read from.
 *
 * The SQL functions here return key material, so the install script grants
 * them to nobody: only the extension's SECURITY DEFINER functions call them.
 *
 * A subject's data key is found (or made) here too (_data_key, with the
 * subject's lock, _lock_subject), and unwrapped (_unwrap_key); each one unwrapped
 * is kept to the end of the transaction, under the exact bytes and master
 * version it came from: a transaction that seals or opens several values
 * of one subject (an errand's address and description, a registration's
 * phone and name, a rectification, the fields an operator opens) decrypts
 * the subject's key once.  Kept keys are zeroed at the end of the
 * transaction, and whenever the key file is read again (a changed file may
 * hold another key under the same version); a key rotated or erased in the
 * transaction is no longer presented in its old wrapping.
 *
 * Writers of key versions.  A rotation says it is done (rotate_master_key
 * and rotate_index_key return 0, master_key_versions shows no data key
 * under a version) only after waiting for every transaction writing the
 * table that holds the versions (_wait_for_writers_here, run on every node
 * of a Citus cluster), so that a registration in flight is seen.  For that to
 * suffice, a transaction reads the key version it stores only once it
 * holds the lock of its write (ROW EXCLUSIVE, _lock_for_writing): either
 * the rotation waits for it, or it reads the version after the operator
 * added the new one.  A blind index and its version come from one reading
 * of the file (_index_key_current), never from two.
 *
 * dispatch.cipher (superuser only) selects how personal fields are sealed:
 * 'pgp' (the default, and the only setting for production) or 'none', a
 * no-op cipher that exists to measure what encryption costs, taken only
 * from the server's configuration file (src/dispatch.c).  Values sealed
 * under 'none' are marked so that they never pass for encrypted ones and
 * open only while the setting is 'none' again.
 *
 * IDENTIFICATION
 *		src/keys.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "storage/fd.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "dispatch.h"
#include "locks.h"
#include "match.h"

#define KEY_BYTES		32
#define MAX_VERSIONS	64
#define KEY_FILE_MAX	(1024 * 1024)	/* bytes */

typedef struct KeyFile
{
	char	   *path;
	struct timespec mtime;
	struct timespec ctime;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	int			nmaster;
	int			versions[MAX_VERSIONS];
	uint8		master[MAX_VERSIONS][KEY_BYTES];
	int			nindex;
	int			index_versions[MAX_VERSIONS];
	uint8		index[MAX_VERSIONS][KEY_BYTES];
} KeyFile;

static KeyFile *keyfile = NULL;

/* data keys unwrapped in this transaction, by their wrapped bytes */
#define TXN_KEYS			16
#define WRAPPED_MAX			192		/* a wrapped 32-byte key: about 100 bytes */

typedef struct UnwrappedKey
{
	int32		version;
	int			len;
	uint8		wrapped[WRAPPED_MAX];
	uint8		key[KEY_BYTES];
} UnwrappedKey;

static UnwrappedKey txn_keys[TXN_KEYS];
static int	txn_nkeys = 0;
static int	txn_next = 0;		/* the slot a new key takes once all are used */
static bool txn_callback = false;

/* pgcrypto's pgp_sym_decrypt_bytea(bytea, text), looked up once */
static Oid	pgp_decrypt_oid = InvalidOid;
static FmgrInfo pgp_decrypt_fn;

static void forget_txn_keys(void);
static const uint8 *master_key(const KeyFile *kf, int version);

static const KeyFile *load_keys(void);
static bool parse_hex_key(const char *hex, uint8 *out);

/*
 * Decode exactly 64 hexadecimal digits into 32 bytes.
 */
static bool
parse_hex_key(const char *hex, uint8 *out)
{
	int			i;

	if (strlen(hex) != KEY_BYTES * 2)
		return false;
	for (i = 0; i < KEY_BYTES; i++)
	{
		int			hi,
					lo;
		char		c;

		c = hex[2 * i];
		hi = (c >= '0' && c <= '9') ? c - '0' :
			(c >= 'a' && c <= 'f') ? c - 'a' + 10 :
			(c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		c = hex[2 * i + 1];
		lo = (c >= '0' && c <= '9') ? c - '0' :
			(c >= 'a' && c <= 'f') ? c - 'a' + 10 :
			(c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8) (hi * 16 + lo);
	}
	return true;
}

/*
 * Refuse a key file that is not a regular file, belongs to another user
 * than the server's, or that group or others may access.  The descriptor
 * fd, if one is open, is closed first.
 */
static void
check_key_file(const char *path, const struct stat *st, int fd)
{
	bool		regular = S_ISREG(st->st_mode);
	bool		ours = st->st_uid == geteuid();
	bool		closed = (st->st_mode & (S_IRWXG | S_IRWXO)) == 0;

	if (regular && ours && closed)
		return;
	if (fd >= 0)
		CloseTransientFile(fd);
	if (!regular)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" is not a regular file", path),
				errhint("Name the key file itself in dispatch.master_key_file, not a directory, device or pipe."));
	if (!ours)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" does not belong to the server's operating-system user", path),
				errhint("Give it to the operating-system user the server runs as (chown)."));
	ereport(ERROR,
			errcode(ERRCODE_DP_KEY_UNAVAILABLE),
			errmsg("master key file \"%s\" is accessible to other users", path),
			errhint("Make it readable only by its owner (chmod 600)."));
}

/* the same file, unchanged since it was read */
static bool
same_key_file(const KeyFile *kf, const char *path, const struct stat *st)
{
	return strcmp(kf->path, path) == 0 &&
		kf->dev == st->st_dev && kf->ino == st->st_ino && kf->size == st->st_size &&
		kf->mtime.tv_sec == st->st_mtim.tv_sec && kf->mtime.tv_nsec == st->st_mtim.tv_nsec &&
		kf->ctime.tv_sec == st->st_ctim.tv_sec && kf->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/*
 * Parse the text of a key file (len bytes, NUL-terminated at len) into kf.
 * Returns 0, or the number of the first invalid line.  The text is taken
 * apart in place.
 */
static int
parse_key_file(char *text, size_t len, KeyFile *kf)
{
	char	   *line = text;
	char	   *end = text + len;
	int			lineno = 0;

	while (line < end)
	{
		char	   *nl = memchr(line, '\n', end - line);
		char	   *tok,
				   *save = NULL;
		bool		ok = false;

		if (nl == NULL)
			nl = end;
		*nl = '\0';
		lineno++;
		/* a NUL byte would end the line early and hide what follows */
		if (strlen(line) != (size_t) (nl - line))
			return lineno;
		tok = strtok_r(line, " \t\r", &save);
		if (tok == NULL || tok[0] == '#')
		{
			line = nl + 1;
			continue;
		}
		if (strcmp(tok, "master") == 0)
		{
			char	   *ver = strtok_r(NULL, " \t\r", &save);
			char	   *hex = strtok_r(NULL, " \t\r", &save);
			char	   *vend;
			long		v;

			if (ver != NULL && hex != NULL && kf->nmaster < MAX_VERSIONS)
			{
				v = strtol(ver, &vend, 10);
				if (*vend == '\0' && v > 0 && v <= INT32_MAX &&
					parse_hex_key(hex, kf->master[kf->nmaster]))
				{
					int			k;

					/* a version appears once: two keys of one version are a mistake */
					ok = true;
					for (k = 0; k < kf->nmaster; k++)
						if (kf->versions[k] == (int) v)
							ok = false;
					if (ok)
						kf->versions[kf->nmaster++] = (int) v;
				}
			}
		}
		else if (strcmp(tok, "index") == 0)
		{
			char	   *first = strtok_r(NULL, " \t\r", &save);
			char	   *second = strtok_r(NULL, " \t\r", &save);
			char	   *hex = second ? second : first;
			long		v = 1;
			char	   *vend = NULL;

			if (second != NULL)
				v = strtol(first, &vend, 10);
			if (hex != NULL && kf->nindex < MAX_VERSIONS &&
				(second == NULL || (*vend == '\0' && v > 0 && v <= INT32_MAX)) &&
				parse_hex_key(hex, kf->index[kf->nindex]))
			{
				int			k;

				ok = true;
				for (k = 0; k < kf->nindex; k++)
					if (kf->index_versions[k] == (int) v)
						ok = false;
				if (ok)
					kf->index_versions[kf->nindex++] = (int) v;
			}
		}
		if (!ok)
			return lineno;
		line = nl + 1;
	}
	return 0;
}

/*
 * Return the parsed key file, reading it again if it changed.  Errors name
 * the file and the line, never its contents.
 *
 * The file is checked (a regular file of the server's user that no one else
 * may access) at every use, by its path: a chmod changes neither its times
 * nor its size.  It is read through one descriptor, checked again with
 * fstat, so that what is read is the file that was checked, and the cache
 * records that file's identity (device, inode, size, times to the
 * nanosecond): the path is re-read when it names another file or the file
 * changed.  The text read is zeroed once parsed.
 */
static const KeyFile *
load_keys(void)
{
	const char *path = dispatch_master_key_file;
	struct stat st;
	int			fd;
	char	   *text;
	size_t		len = 0;
	int			badline;
	KeyFile    *kf;

	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("no master key is configured"),
				errhint("Set dispatch.master_key_file to a key file readable only by the server's operating-system user."));

	if (stat(path, &st) != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("could not read master key file \"%s\": %m", path));
	check_key_file(path, &st, -1);
	if (keyfile != NULL && same_key_file(keyfile, path, &st))
		return keyfile;

	/* never blocks: a pipe put there meanwhile is refused below */
	fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("could not open master key file \"%s\": %m", path));
	if (fstat(fd, &st) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("could not read master key file \"%s\": %m", path));
	}
	check_key_file(path, &st, fd);
	if (st.st_size > KEY_FILE_MAX)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" is larger than %d bytes", path, KEY_FILE_MAX),
				errdetail("It holds at most %d master and %d index keys, with comments.", MAX_VERSIONS, MAX_VERSIONS));
	}

	/* the file as fstat saw it: a file that grows meanwhile is read again */
	text = palloc(st.st_size + 1);
	while (len < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, text + len, st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
		{
			int			save_errno = errno;

			CloseTransientFile(fd);
			explicit_bzero(text, st.st_size + 1);
			pfree(text);
			errno = save_errno;
			ereport(ERROR,
					errcode(ERRCODE_DP_KEY_UNAVAILABLE),
					errmsg("could not read master key file \"%s\": %m", path));
		}
		if (n == 0)
			break;
		len += n;
	}
	CloseTransientFile(fd);
	text[len] = '\0';

	kf = MemoryContextAllocZero(TopMemoryContext, sizeof(KeyFile));
	badline = parse_key_file(text, len, kf);
	explicit_bzero(text, st.st_size + 1);
	pfree(text);
	if (badline != 0)
	{
		explicit_bzero(kf, sizeof(KeyFile));
		pfree(kf);
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("invalid line %d in master key file \"%s\"", badline, path),
				errdetail("Lines are \"master <version> <64 hex digits>\" or \"index [<version>] <64 hex digits>\", each version once."));
	}

	if (kf->nmaster == 0 || kf->nindex == 0)
	{
		explicit_bzero(kf, sizeof(KeyFile));
		pfree(kf);
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" lacks a master or an index key", path));
	}

	kf->path = MemoryContextStrdup(TopMemoryContext, path);
	kf->dev = st.st_dev;
	kf->mtime = st.st_mtim;
	kf->ctime = st.st_ctim;
	kf->ino = st.st_ino;
	kf->size = st.st_size;

	if (keyfile != NULL)
	{
		pfree(keyfile->path);
		explicit_bzero(keyfile, sizeof(KeyFile));
		pfree(keyfile);
	}
	keyfile = kf;
	/* a changed file may hold another key under a version kept */
	forget_txn_keys();
	return keyfile;
}

static bytea *
key_to_bytea(const uint8 *key)
{
	bytea	   *result = palloc(VARHDRSZ + KEY_BYTES);

	SET_VARSIZE(result, VARHDRSZ + KEY_BYTES);
	memcpy(VARDATA(result), key, KEY_BYTES);
	return result;
}

PG_FUNCTION_INFO_V1(dispatch_master_key);

/*
 * SQL: dispatch._master_key(version int) -> bytea
 *
 * The master key of one version.  A version that is not in the file (it
 * was retired and destroyed, or never existed) is an error, never NULL.
 */
Datum
dispatch_master_key(PG_FUNCTION_ARGS)
{
	int32		version = PG_GETARG_INT32(0);

	PG_RETURN_BYTEA_P(key_to_bytea(master_key(load_keys(), version)));
}

/* the master key of one version, or the DP401 error */
static const uint8 *
master_key(const KeyFile *kf, int version)
{
	int			i;

	for (i = 0; i < kf->nmaster; i++)
		if (kf->versions[i] == version)
			return kf->master[i];
	ereport(ERROR,
			errcode(ERRCODE_DP_KEY_UNAVAILABLE),
			errmsg("master key version %d is not in the key file", version));
	return NULL;
}

static void
forget_txn_keys(void)
{
	explicit_bzero(txn_keys, sizeof(txn_keys));
	txn_nkeys = 0;
	txn_next = 0;
}

static void
txn_keys_at_end(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			if (txn_nkeys > 0)
				forget_txn_keys();
			break;
		default:
			break;
	}
}

/*
 * pgcrypto's pgp_sym_decrypt_bytea(bytea, text), found in the schema of
 * the extension pgcrypto (a dependency) once per backend, and again if it
 * was dropped and created meanwhile.
 */
static FmgrInfo *
pgp_decrypt(void)
{
	Oid			argtypes[2] = {BYTEAOID, TEXTOID};
	Oid			oid;

	if (OidIsValid(pgp_decrypt_oid) &&
		SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(pgp_decrypt_oid)))
		return &pgp_decrypt_fn;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	oid = LookupFuncName(list_make2(makeString(dispatch_extension_schema("pgcrypto")),
									makeString("pgp_sym_decrypt_bytea")),
						 2, argtypes, false);
	SPI_finish();
	fmgr_info_cxt(oid, &pgp_decrypt_fn, TopMemoryContext);
	pgp_decrypt_oid = oid;
	return &pgp_decrypt_fn;
}

PG_FUNCTION_INFO_V1(dispatch_unwrap_key);

/*
 * SQL: dispatch._unwrap_key(wrapped bytea, version int) -> bytea
 *
 * A data key unwrapped with the master key of its version: the OpenPGP
 * message _wrap_key made (sql/15_dependencies.sql) opened with that key
 * in hex as its password.  Kept to the end of the transaction (the head of
 * this file).  A wrong key or corrupt bytes raise pgcrypto's error (39000)
 * and keep nothing.
 */
Datum
dispatch_unwrap_key(PG_FUNCTION_ARGS)
{
	bytea	   *wrapped = PG_GETARG_BYTEA_PP(0);
	int32		version = PG_GETARG_INT32(1);
	const uint8 *master = master_key(load_keys(), version);
	const uint8 *data = (const uint8 *) VARDATA_ANY(wrapped);
	int			len = VARSIZE_ANY_EXHDR(wrapped);
	char		hex[KEY_BYTES * 2 + 1];
	text	   *password;
	bytea	   *key;
	int			i;

	for (i = 0; i < txn_nkeys; i++)
		if (txn_keys[i].version == version && txn_keys[i].len == len &&
			memcmp(txn_keys[i].wrapped, data, len) == 0)
			PG_RETURN_BYTEA_P(key_to_bytea(txn_keys[i].key));

	hex_encode((const char *) master, KEY_BYTES, hex);
	hex[KEY_BYTES * 2] = '\0';
	password = cstring_to_text(hex);
	explicit_bzero(hex, sizeof(hex));
	PG_TRY();
	{
		key = DatumGetByteaPP(FunctionCall2(pgp_decrypt(), PointerGetDatum(wrapped),
											PointerGetDatum(password)));
	}
	PG_FINALLY();
	{
		explicit_bzero(VARDATA(password), KEY_BYTES * 2);
	}
	PG_END_TRY();
	pfree(password);

	if (len <= WRAPPED_MAX && VARSIZE_ANY_EXHDR(key) == KEY_BYTES)
	{
		UnwrappedKey *k = &txn_keys[txn_nkeys < TXN_KEYS ? txn_nkeys++ : txn_next++ % TXN_KEYS];

		if (!txn_callback)
		{
			RegisterXactCallback(txn_keys_at_end, NULL);
			txn_callback = true;
		}
		explicit_bzero(k, sizeof(UnwrappedKey));
		k->version = version;
		k->len = len;
		memcpy(k->wrapped, data, len);
		memcpy(k->key, VARDATA_ANY(key), KEY_BYTES);
	}
	PG_RETURN_BYTEA_P(key);
}

/*
 * A subject's (customer's or rider's) advisory lock to the end of the
 * transaction: shared while sealing, exclusive to replace or destroy its
 * data key.  Its keys: the lock class of the subject's kind (_lock_key),
 * and the id modulo 2^31 - 1.
 */
static void
lock_keys(int32 class, int64 subject_id, bool exclusive)
{
	Datum		obj = Int32GetDatum((int32) (subject_id % PG_INT32_MAX));

	if (exclusive)
		DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(class), obj);
	else
		DirectFunctionCall2(pg_advisory_xact_lock_shared_int4, Int32GetDatum(class), obj);
}

/*
 * Replacing or destroying a subject's data key waits for the transactions
 * that seal with it (the subject's lock, exclusive), then reads and changes
 * every value sealed for the subject.  A transaction snapshot (repeatable
 * read, serializable) was taken before that wait and misses what they
 * committed meanwhile: a rotation would leave those values under the key it
 * destroys, an erasure would leave them (and an unpaid order with its exact
 * drop-off) behind.  Such a transaction is refused before it waits.
 */
static void
lock_subject(text *subject, int64 subject_id, bool exclusive)
{
	if (exclusive && IsolationUsesXactSnapshot())
		ereport(ERROR,
				errcode(ERRCODE_DP_NEEDS_READ_COMMITTED),
				errmsg("the data key of %s " INT64_FORMAT " can be replaced or destroyed only in a read committed transaction",
					   text_to_cstring(subject), subject_id),
				errdetail("A repeatable read or serializable snapshot is older than the wait for the transactions that seal for the subject, and would miss what they committed meanwhile."),
				errhint("Call it in a transaction of isolation level read committed (the default)."));
	lock_keys(DatumGetInt32(DirectFunctionCall1(int84, DirectFunctionCall1(dispatch_lock_key,
																		   PointerGetDatum(subject)))),
			  subject_id, exclusive);
}

/*
 * The customer's lock, for C callers: shared by an order being written, so
 * that an erasure (which takes it exclusive) is either seen by the order's
 * check of the customer or waits for the order (locks.h).  Its class is
 * known here: no name to look up on the order's path.
 */
void
dispatch_lock_customer(int64 customer_id, bool exclusive)
{
	lock_keys(DISPATCH_LOCK_CUSTOMER, customer_id, exclusive);
}

PG_FUNCTION_INFO_V1(dispatch_lock_subject);

/*
 * SQL: dispatch._lock_subject(subject text, subject_id bigint, exclusive
 * boolean) -> void
 */
Datum
dispatch_lock_subject(PG_FUNCTION_ARGS)
{
	lock_subject(PG_GETARG_TEXT_PP(0), PG_GETARG_INT64(1), PG_GETARG_BOOL(2));
	PG_RETURN_VOID();
}

static SPIPlanPtr key_plan = NULL;
static SPIPlanPtr key_share_plan = NULL;
static SPIPlanPtr forgotten_plan = NULL;
static SPIPlanPtr new_key_plan = NULL;
static SPIPlanPtr store_key_plan = NULL;

static void
prepare_key_plans(void)
{
	Oid			t_subject[2] = {TEXTOID, INT8OID};
	Oid			t_id[1] = {INT8OID};
	Oid			t_store[4] = {TEXTOID, INT8OID, INT4OID, BYTEAOID};

	if (store_key_plan != NULL)
		return;
	key_plan = match_keep_plan("SELECT k.key_version, k.wrapped_key FROM dispatch.subject_keys k"
							   " WHERE k.subject OPERATOR(pg_catalog.=) $1"
							   "   AND k.subject_id OPERATOR(pg_catalog.=) $2",
							   2, t_subject);
	key_share_plan = match_keep_plan("SELECT FROM dispatch.subject_keys k"
									 " WHERE k.subject OPERATOR(pg_catalog.=) $1"
									 "   AND k.subject_id OPERATOR(pg_catalog.=) $2"
									 " FOR SHARE",
									 2, t_subject);
	forgotten_plan = match_keep_plan("SELECT FROM dispatch.customers c"
									 " WHERE c.customer_id OPERATOR(pg_catalog.=) $1"
									 "   AND c.forgotten_at IS NOT NULL",
									 1, t_id);
	new_key_plan = match_keep_plan("SELECT dispatch._random_key(), dispatch._master_key_version()",
								   0, NULL);
	store_key_plan = match_keep_plan("INSERT INTO dispatch.subject_keys (subject, subject_id, key_version, wrapped_key)"
									 " VALUES ($1, $2, $3, dispatch._wrap_key($4, $3))",
									 4, t_store);
}

PG_FUNCTION_INFO_V1(dispatch_data_key);

/*
 * SQL: dispatch._data_key(subject text, subject_id bigint, create boolean)
 * -> bytea
 *
 * A subject's data key, unwrapped; made on first use when create.
 *
 * Sealing (create) holds the subject's advisory lock in share mode until
 * commit, so that a key rotation or an erasure (exclusive mode) waits for
 * this transaction, and this one, if it came second, sees the new key or
 * no key at all.  Re-wrapping under a new master key does not change the
 * data key and takes no such lock.  (An advisory lock, not a row lock: it
 * writes no WAL on the intake path.)  A transaction snapshot (repeatable
 * read, serializable) may be older than a rotation or erasure that
 * committed before the lock was granted, and would still show the replaced
 * key: locking the row then fails with a serialization failure (40001,
 * retry) instead of sealing under that key.  Read committed reads the
 * latest key.  An erased customer never gets a key again (the lock made
 * this wait for a concurrent erasure).
 */
Datum
dispatch_data_key(PG_FUNCTION_ARGS)
{
	text	   *subject = PG_GETARG_TEXT_PP(0);
	int64		subject_id = PG_GETARG_INT64(1);
	bool		create = PG_GETARG_BOOL(2);
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi;
	Datum		args[4];
	bool		isnull;
	Datum		key;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_key_plans();
	args[0] = PointerGetDatum(subject);
	args[1] = Int64GetDatum(subject_id);
	if (create)
	{
		lock_subject(subject, subject_id, false);
		if (IsolationUsesXactSnapshot())
			match_run_plan(key_share_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading or storing a data key");
	}
	match_run_plan(key_plan, args, NULL, false, 1, SPI_OK_SELECT, "reading or storing a data key");
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		Datum		version = SPI_getbinval(t, d, 1, &isnull);
		Datum		wrapped = SPI_getbinval(t, d, 2, &isnull);

		/* the key in the caller's memory, past SPI_finish */
		spi = MemoryContextSwitchTo(caller);
		key = DirectFunctionCall2(dispatch_unwrap_key, wrapped, version);
		MemoryContextSwitchTo(spi);
	}
	else
	{
		char	   *name = text_to_cstring(subject);
		HeapTuple	t;
		TupleDesc	d;

		if (!create)
			ereport(ERROR,
					errcode(ERRCODE_DP_DATA_KEY_GONE),
					errmsg("personal data of %s " INT64_FORMAT " is not available", name, subject_id),
					errdetail("The subject has no data key: it was erased or never had personal data."));
		if (strcmp(name, "customer") == 0)
		{
			match_run_plan(forgotten_plan, &args[1], NULL, false, 1, SPI_OK_SELECT, "reading or storing a data key");
			if (SPI_processed > 0)
				ereport(ERROR,
						errcode(ERRCODE_DP_DATA_KEY_GONE),
						errmsg("personal data of customer " INT64_FORMAT " was erased", subject_id),
						errdetail("The customer asked to be forgotten; nothing personal is stored for them again."));
		}
		/* the version read under the lock its INSERT takes (head of the file) */
		(void) RangeVarGetRelid(makeRangeVar("dispatch", "subject_keys", -1), RowExclusiveLock, false);
		match_run_plan(new_key_plan, NULL, NULL, false, 1, SPI_OK_SELECT, "reading or storing a data key");
		t = SPI_tuptable->vals[0];
		d = SPI_tuptable->tupdesc;
		args[3] = SPI_getbinval(t, d, 1, &isnull);
		args[2] = SPI_getbinval(t, d, 2, &isnull);
		match_run_plan(store_key_plan, args, NULL, false, 1, SPI_OK_INSERT, "reading or storing a data key");
		key = SPI_datumTransfer(args[3], false, -1);
	}
	SPI_finish();
	PG_RETURN_DATUM(key);
}

PG_FUNCTION_INFO_V1(dispatch_master_key_version);

/*
 * SQL: dispatch._master_key_version() -> int
 *
 * The current (highest) master key version, under which new data keys are
 * wrapped.
 */
Datum
dispatch_master_key_version(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();
	int			best = 0;
	int			i;

	for (i = 0; i < kf->nmaster; i++)
		if (kf->versions[i] > best)
			best = kf->versions[i];
	PG_RETURN_INT32(best);
}

/* the slot of an index key version, or of the current (highest) one for 0 */
static int
index_slot(const KeyFile *kf, int version)
{
	int			best = -1;
	int			i;

	for (i = 0; i < kf->nindex; i++)
	{
		if (version > 0 && kf->index_versions[i] == version)
			return i;
		if (version == 0 && (best < 0 || kf->index_versions[i] > kf->index_versions[best]))
			best = i;
	}
	if (best < 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("index key version %d is not in the key file", version));
	return best;
}

PG_FUNCTION_INFO_V1(dispatch_index_key);

/*
 * SQL: dispatch._index_key() -> bytea
 *
 * The current key of the blind indexes (HMAC-SHA-256 of normalised phone
 * numbers): the highest index version.
 */
Datum
dispatch_index_key(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();

	PG_RETURN_BYTEA_P(key_to_bytea(kf->index[index_slot(kf, 0)]));
}

PG_FUNCTION_INFO_V1(dispatch_index_key_current);

/*
 * SQL: dispatch._index_key_current(OUT version int, OUT key bytea) -> record
 *
 * The current blind-index key and its version, from one reading of the
 * key file: an index computed with the key is labelled with the version of
 * that key, even if the file changes meanwhile.
 */
Datum
dispatch_index_key_current(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();
	int			slot = index_slot(kf, 0);
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "_index_key_current must return a composite");
	desc = BlessTupleDesc(desc);
	values[0] = Int32GetDatum(kf->index_versions[slot]);
	values[1] = PointerGetDatum(key_to_bytea(kf->index[slot]));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(dispatch_index_key_at);

/*
 * SQL: dispatch._index_key_at(version int) -> bytea
 *
 * The blind-index key of one version; an error when it is not in the file.
 */
Datum
dispatch_index_key_at(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();
	int32		version = PG_GETARG_INT32(0);

	if (version <= 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("index key version %d is not in the key file", version));
	PG_RETURN_BYTEA_P(key_to_bytea(kf->index[index_slot(kf, version)]));
}

/* versions as a sorted int4[] */
static Datum
versions_array(const int *versions, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i,
				j;

	for (i = 0; i < n; i++)
		elems[i] = Int32GetDatum(versions[i]);
	/* insertion sort: at most MAX_VERSIONS entries */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && DatumGetInt32(elems[j - 1]) > DatumGetInt32(elems[j]); j--)
		{
			Datum		t = elems[j];

			elems[j] = elems[j - 1];
			elems[j - 1] = t;
		}
	return PointerGetDatum(construct_array(elems, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(dispatch_index_key_versions);

/*
 * SQL: dispatch._index_key_versions() -> int[]
 *
 * The blind-index key versions in the key file, ascending; the last is the
 * current one.  Versions are not secret; the keys are never returned.
 */
Datum
dispatch_index_key_versions(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();

	PG_RETURN_DATUM(versions_array(kf->index_versions, kf->nindex));
}

PG_FUNCTION_INFO_V1(dispatch_master_key_versions);

/*
 * SQL: dispatch._master_key_versions() -> int[]
 *
 * The master key versions present in the key file, in ascending order, so
 * that an operator can see which versions may be destroyed.  Versions are
 * not secret; the keys are never returned.
 */
Datum
dispatch_master_key_versions(PG_FUNCTION_ARGS)
{
	const KeyFile *kf = load_keys();

	PG_RETURN_DATUM(versions_array(kf->versions, kf->nmaster));
}

PG_FUNCTION_INFO_V1(dispatch_cipher_enabled);

/*
 * SQL: dispatch._cipher_enabled() -> bool
 *
 * False only while dispatch.cipher is 'none' (benchmarks).
 */
Datum
dispatch_cipher_enabled(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dispatch_cipher != DISPATCH_CIPHER_NONE);
}

PG_FUNCTION_INFO_V1(dispatch_require_read_committed);

/*
 * SQL: dispatch._require_read_committed(call text) -> void
 *
 * DP418 in a repeatable read or serializable transaction: for the calls
 * that wait for concurrent writers and then read what they committed,
 * which a snapshot taken before the wait does not show.
 */
Datum
dispatch_require_read_committed(PG_FUNCTION_ARGS)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				errcode(ERRCODE_DP_NEEDS_READ_COMMITTED),
				errmsg("%s must run in a read committed transaction", text_to_cstring(PG_GETARG_TEXT_PP(0))),
				errdetail("A repeatable read or serializable snapshot is older than the wait for concurrent writers, and would miss what they committed meanwhile."),
				errhint("Call it in a transaction of isolation level read committed (the default)."));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_lock_for_writing);

/*
 * SQL: dispatch._lock_for_writing(tab regclass) -> void
 *
 * The lock an INSERT, UPDATE or DELETE of the table takes (ROW EXCLUSIVE),
 * on this node, to the end of the transaction: taken before a key version
 * that the transaction will store in the table is read (the head of this
 * file).  Conflicts with no other writer.
 */
Datum
dispatch_lock_for_writing(PG_FUNCTION_ARGS)
{
	LockRelationOid(PG_GETARG_OID(0), RowExclusiveLock);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(dispatch_wait_for_writers_here);

/*
 * SQL: dispatch._wait_for_writers_here(tabs regclass[]) -> void
 *
 * Waits, on this node, until every transaction that holds a lock of a write
 * on one of the tables (ROW EXCLUSIVE or stronger) has ended, as CREATE
 * INDEX CONCURRENTLY waits for them.  Nothing is locked: writers that start
 * meanwhile go on, and none waits for the caller.  The caller's own locks do
 * not count.
 */
Datum
dispatch_wait_for_writers_here(PG_FUNCTION_ARGS)
{
	ArrayType  *tabs = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *tags = NIL;

	deconstruct_array(tabs, REGCLASSOID, sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		LOCKTAG    *tag;

		if (nulls[i])
			continue;
		tag = palloc(sizeof(LOCKTAG));
		SET_LOCKTAG_RELATION(*tag, MyDatabaseId, DatumGetObjectId(elems[i]));
		tags = lappend(tags, tag);
	}
	if (tags != NIL)
		WaitForLockersMultiple(tags, ShareLock, false);
	PG_RETURN_VOID();
}
