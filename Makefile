# Makefile for the dispatch extension (PGXS)

EXTENSION = dispatch
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" dispatch.control)

MODULE_big = dispatch
# every concern is one file under src/; the order only fixes the link order
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script of the version in development (default_version) is
# assembled from the hand-edited sources in sql/, in file-name order.  The
# install scripts of released versions and every upgrade script are files
# of their own in extension/: a released one never changes.
SQL_SOURCES = $(sort $(wildcard sql/*.sql))
DATA_built = extension/dispatch--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard extension/dispatch--*.sql))

PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
PG_CPPFLAGS = -I$(srcdir)/src
# CI builds with assertions, as the anchors' CI does
ifeq ($(CI),true)
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
endif
SHLINK_EXTRA =

ISOLATION = order_transition stock_race outbox_catchup assign_concurrent assign_grid_concurrent accept_offline offer_race manual_offer_race status_version seal_rotate
ISOLATION_OPTS = --inputdir=test/isolation \
	--load-extension=postgis --load-extension=pgcrypto --load-extension=dispatch

EXTRA_CLEAN = $(DATA_built) output_iso tools/listen tools/pgdev.d

autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_SOURCES) dispatch.control
	@mkdir -p extension
	cat $(SQL_SOURCES) > $@

# the LISTEN client used by the walk-through, the listener test and the benchmarks
tools/listen: tools/listen.c
	$(CC) -O2 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) -o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq

all: tools/listen
