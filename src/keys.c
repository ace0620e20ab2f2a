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
 * modification time or size changes; its mode is checked on every use.
 *
 * The SQL functions here return key material, so the install script grants
 * them to nobody: only the extension's SECURITY DEFINER functions call them.
 *
 * dispatch.cipher (superuser only) selects how personal fields are sealed:
 * 'pgp' (the default, and the only setting for production) or 'none', a
 * no-op cipher that exists to measure what encryption costs.  Values sealed
 * under 'none' are marked so that they never pass for encrypted ones and
 * open only while the setting is 'none' again.
 *
 * IDENTIFICATION
 *		src/keys.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "dispatch.h"

#define KEY_BYTES		32
#define MAX_VERSIONS	64

typedef struct KeyFile
{
	char	   *path;
	time_t		mtime;
	off_t		size;
	int			nmaster;
	int			versions[MAX_VERSIONS];
	uint8		master[MAX_VERSIONS][KEY_BYTES];
	int			nindex;
	int			index_versions[MAX_VERSIONS];
	uint8		index[MAX_VERSIONS][KEY_BYTES];
} KeyFile;

static KeyFile *keyfile = NULL;

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
 * Return the parsed key file, reading it again if it changed.  Errors name
 * the file and the line, never its contents.
 */
static const KeyFile *
load_keys(void)
{
	const char *path = dispatch_master_key_file;
	struct stat st;
	FILE	   *f;
	char		line[512];
	int			lineno = 0;
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

	/* checked on every use: a chmod changes neither mtime nor size */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" is accessible to other users", path),
				errhint("Make it readable only by its owner (chmod 600)."));

	if (keyfile != NULL && strcmp(keyfile->path, path) == 0 &&
		keyfile->mtime == st.st_mtime && keyfile->size == st.st_size)
		return keyfile;

	f = AllocateFile(path, "r");
	if (f == NULL)
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("could not open master key file \"%s\": %m", path));

	kf = MemoryContextAllocZero(TopMemoryContext, sizeof(KeyFile));
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *tok,
				   *save = NULL;
		bool		ok = false;

		lineno++;
		tok = strtok_r(line, " \t\r\n", &save);
		if (tok == NULL || tok[0] == '#')
			continue;
		if (strcmp(tok, "master") == 0)
		{
			char	   *ver = strtok_r(NULL, " \t\r\n", &save);
			char	   *hex = strtok_r(NULL, " \t\r\n", &save);
			char	   *end;
			long		v;

			if (ver != NULL && hex != NULL && kf->nmaster < MAX_VERSIONS)
			{
				v = strtol(ver, &end, 10);
				if (*end == '\0' && v > 0 && v <= INT32_MAX &&
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
			char	   *first = strtok_r(NULL, " \t\r\n", &save);
			char	   *second = strtok_r(NULL, " \t\r\n", &save);
			char	   *hex = second ? second : first;
			long		v = 1;
			char	   *end = NULL;

			if (second != NULL)
				v = strtol(first, &end, 10);
			if (hex != NULL && kf->nindex < MAX_VERSIONS &&
				(second == NULL || (*end == '\0' && v > 0 && v <= INT32_MAX)) &&
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
		explicit_bzero(line, sizeof(line));
		if (!ok)
		{
			FreeFile(f);
			explicit_bzero(kf, sizeof(KeyFile));
			pfree(kf);
			ereport(ERROR,
					errcode(ERRCODE_DP_KEY_UNAVAILABLE),
					errmsg("invalid line %d in master key file \"%s\"", lineno, path),
					errdetail("Lines are \"master <version> <64 hex digits>\" or \"index [<version>] <64 hex digits>\", each version once."));
		}
	}
	FreeFile(f);

	if (kf->nmaster == 0 || kf->nindex == 0)
	{
		explicit_bzero(kf, sizeof(KeyFile));
		pfree(kf);
		ereport(ERROR,
				errcode(ERRCODE_DP_KEY_UNAVAILABLE),
				errmsg("master key file \"%s\" lacks a master or an index key", path));
	}

	kf->path = MemoryContextStrdup(TopMemoryContext, path);
	kf->mtime = st.st_mtime;
	kf->size = st.st_size;

	if (keyfile != NULL)
	{
		pfree(keyfile->path);
		explicit_bzero(keyfile, sizeof(KeyFile));
		pfree(keyfile);
	}
	keyfile = kf;
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
	const KeyFile *kf = load_keys();
	int			i;

	for (i = 0; i < kf->nmaster; i++)
		if (kf->versions[i] == version)
			PG_RETURN_BYTEA_P(key_to_bytea(kf->master[i]));

	ereport(ERROR,
			errcode(ERRCODE_DP_KEY_UNAVAILABLE),
			errmsg("master key version %d is not in the key file", version));
	PG_RETURN_NULL();
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
