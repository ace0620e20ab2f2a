/*-------------------------------------------------------------------------
 *
 * sentcli.c
 *		Command-line driver of the sentiment core, for training and evaluation
 *		without a database.
 *
 *	sentcli [-m model.tsv] [-n] score      one text per line on stdin;
 *	                                       prints "score<TAB>topics"
 *	sentcli builtin                        lists the built-in words
 *	sentcli params                         prints "name<TAB>value" lines: the
 *	                                       constants that tokenizing and
 *	                                       training share (train.py reads them)
 *	sentcli [-m model.tsv] [-n] features   "label<TAB>text" lines on stdin;
 *	                                       prints "label<TAB>f1<TAB>f2..."
 *	                                       with each feature once per line
 *
 * model.tsv lines: "L<TAB>word<TAB>prior", "W<TAB>feature<TAB>weight",
 * "B<TAB>bias".  -n starts from an empty model instead of the built-in
 * rules.  Lines that are not valid UTF-8 print "ERR".
 *
 * IDENTIFICATION
 *		tools/sentiment/sentcli.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment_core.h"

static void *
xalloc(void *ctx, size_t n)
{
	(void) ctx;
	return malloc(n);
}

static void
xfree(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

static int
load_model(sent_model *m, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;
	long		lineno = 0;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0)
	{
		char	   *t1,
				   *t2;
		int			rc = 0;

		lineno++;
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		t1 = strchr(line, '\t');
		if (t1 == NULL)
			continue;
		*t1++ = '\0';
		if (line[0] == 'B')
		{
			m->bias = (float) atof(t1);
			continue;
		}
		t2 = strrchr(t1, '\t');
		if (t2 == NULL)
			continue;
		*t2++ = '\0';
		if (line[0] == 'L')
			rc = sent_model_set_lexicon(m, t1, strlen(t1), atof(t2));
		else if (line[0] == 'W')
			rc = sent_model_set_weight(m, t1, strlen(t1), atof(t2));
		if (rc != SENT_OK)
			fprintf(stderr, "%s:%ld: bad entry (%d)\n", path, lineno, rc);
	}
	free(line);
	fclose(f);
	return 0;
}

/* features of one document, deduplicated with a small open hash set */
typedef struct featset
{
	char	  **keys;
	size_t		cap;
	size_t		n;
} featset;

static unsigned long
fhash(const char *s, size_t n)
{
	unsigned long h = 5381;

	while (n--)
		h = h * 33 + (unsigned char) *s++;
	return h;
}

static int
collect(void *arg, const char *f, size_t len)
{
	featset    *fs = arg;
	size_t		i;

	if (fs->n * 2 >= fs->cap)
	{
		size_t		oldcap = fs->cap;
		char	  **old = fs->keys;

		fs->cap = oldcap ? oldcap * 2 : 256;
		fs->keys = calloc(fs->cap, sizeof(char *));
		for (i = 0; i < oldcap; i++)
			if (old[i])
			{
				size_t		j = fhash(old[i], strlen(old[i])) & (fs->cap - 1);

				while (fs->keys[j])
					j = (j + 1) & (fs->cap - 1);
				fs->keys[j] = old[i];
			}
		free(old);
	}
	for (i = fhash(f, len) & (fs->cap - 1); fs->keys[i]; i = (i + 1) & (fs->cap - 1))
		if (strlen(fs->keys[i]) == len && memcmp(fs->keys[i], f, len) == 0)
			return 0;
	fs->keys[i] = strndup(f, len);
	fs->n++;
	fputc('\t', stdout);
	fwrite(f, 1, len, stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	sent_model	m;
	sent_allocator a = {xalloc, xfree, NULL};
	const char *model_path = NULL;
	int			builtin = 1,
				i;
	const char *mode = NULL;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		n;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			model_path = argv[++i];
		else if (strcmp(argv[i], "-n") == 0)
			builtin = 0;
		else
			mode = argv[i];
	}
	if (mode != NULL && strcmp(mode, "builtin") == 0)
	{
		const char *w;

		for (i = 0; (w = sent_builtin_word((size_t) i)) != NULL; i++)
			puts(w);
		return 0;
	}
	if (mode != NULL && strcmp(mode, "params") == 0)
	{
		printf("max_word_cp\t%d\n", SENT_MAX_WORD_CP);
		printf("max_key_bytes\t%d\n", SENT_MAX_KEY_BYTES);
		printf("min_weight\t%.17g\n", SENT_TRAIN_MIN_LOG_ODDS);
		printf("max_weight\t%.17g\n", SENT_TRAIN_MAX_LOG_ODDS);
		printf("word_scale\t%.17g\n", SENT_TRAIN_WORD_SCALE);
		printf("bigram_scale\t%.17g\n", SENT_TRAIN_BIGRAM_SCALE);
		return 0;
	}
	if (mode == NULL || (strcmp(mode, "score") != 0 && strcmp(mode, "features") != 0))
	{
		fprintf(stderr, "usage: sentcli [-m model.tsv] [-n] score|features|builtin|params\n");
		return 2;
	}
	if (sent_model_init(&m, &a, builtin) != SENT_OK)
		return 1;
	if (model_path && load_model(&m, model_path) != 0)
		return 1;

	while ((n = getline(&line, &cap, stdin)) > 0)
	{
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strcmp(mode, "score") == 0)
		{
			double		score;
			uint32_t	topics;

			if (sent_analyze(&m, line, (size_t) n, &score, &topics) != SENT_OK)
				puts("ERR");
			else
			{
				int			t,
							first = 1;

				printf("%.6f\t", score);
				for (t = 0; t < SENT_NTOPICS; t++)
					if (topics & (1u << t))
					{
						printf("%s%s", first ? "" : ",", sent_topic_name(t));
						first = 0;
					}
				putchar('\n');
			}
		}
		else
		{
			char	   *tab = memchr(line, '\t', (size_t) n);
			featset		fs = {NULL, 0, 0};
			size_t		k;

			if (tab == NULL)
			{
				puts("ERR");
				continue;
			}
			fwrite(line, 1, (size_t) (tab - line), stdout);
			if (sent_features(&m, tab + 1, (size_t) (n - (tab + 1 - line)),
							  collect, &fs) != SENT_OK)
				fputs("\tERR", stdout);
			putchar('\n');
			for (k = 0; k < fs.cap; k++)
				free(fs.keys[k]);
			free(fs.keys);
		}
	}
	free(line);
	sent_model_free(&m);
	return 0;
}
