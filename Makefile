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

ISOLATION = order_transition provider_ref_race batch_rider_lock forget_rider_ping ping_offline_race stock_race outbox_catchup assign_concurrent assign_grid_concurrent accept_offline offer_race manual_offer_race status_version seal_rotate key_retire cancel_offer_race coupon_race coupon_cancel_race budget_zone_race budget_balance_race referral_budget_held referral_race offer_budget_release offer_cap_race experiment_exposure complaint_race usual_offer_race release_pickup_race sync_cancel_race rectify_race event_base_raise bad_orders_race points_return_race cancel_twice_race batch_offline_race purge_payment_race sync_offer_race forget_payment_race erase_rectify_race campaign_create_race refund_ref_race rider_phone_race
ISOLATION_OPTS = --inputdir=test/isolation \
	--load-extension=postgis --load-extension=pgcrypto --load-extension=dispatch
# installcheck is ours (below): it runs every suite, not only the specs
NO_INSTALLCHECK = 1

EXTRA_CLEAN = $(DATA_built) $(SENTIMENT_MODEL_DATA) $(ERRCODES_H) output_iso tools/listen tools/sim tools/gateway tools/pgdev.d

# objects follow the headers they include (.deps/); Makefile.global would
# otherwise reset this to what the server was configured with
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_SOURCES) dispatch.control
	@mkdir -p extension
	cat $(SQL_SOURCES) > $@

# The default sentiment model is C data generated from its one source,
# src/sentiment_model.tsv (written by tools/sentiment/train.py), as
# PostgreSQL generates its Unicode tables; docs/sentiment.md.
SENTIMENT_MODEL_DATA = src/sentiment_model_data.h

$(SENTIMENT_MODEL_DATA): src/sentiment_model.tsv tools/sentiment/gen_model_header.pl
	$(or $(PERL),perl) tools/sentiment/gen_model_header.pl $< > $@.tmp
	mv $@.tmp $@

src/sentiment_model.o src/sentiment_model.bc: $(SENTIMENT_MODEL_DATA)

# The SQLSTATEs of class DP have one list, src/errcodes.txt, as
# PostgreSQL's have errcodes.txt: the C macros (src/errcodes.h, build output)
# and docs/errors.md (committed, so that it reads on the web) are generated
# from it; test/errcodes/run checks the list against the code and the tests.
ERRCODES_H = src/errcodes.h
GEN_ERRCODES = tools/errcodes/gen_errcodes.pl

$(ERRCODES_H): src/errcodes.txt $(GEN_ERRCODES)
	$(or $(PERL),perl) $(GEN_ERRCODES) --header $< > $@.tmp
	mv $@.tmp $@

docs/errors.md: src/errcodes.txt $(GEN_ERRCODES)
	$(or $(PERL),perl) $(GEN_ERRCODES) --docs $< > $@.tmp
	mv $@.tmp $@

# dispatch.h includes the header; autodepend knows that only after a build
$(OBJS) $(OBJS:.o=.bc): $(ERRCODES_H)

all: docs/errors.md

# the LISTEN client used by the walk-through, the listener test and the benchmarks
tools/listen: tools/listen.c
	$(CC) -O2 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) -o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq

all: tools/listen

# tools/sim: the city simulator, the meal-delivery replay and its checker
# (tools/sim-src/), a libpq client like tools/listen
SIM_SOURCES = $(sort $(wildcard tools/sim-src/*.c))
tools/sim: $(SIM_SOURCES) $(wildcard tools/sim-src/*.h)
	$(CC) -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I$(shell $(PG_CONFIG) --includedir) -o $@ $(SIM_SOURCES) -L$(shell $(PG_CONFIG) --libdir) -lpq -lm -pthread

all: tools/sim

# tools/gateway: the reference push gateway (libpq and libmosquitto,
# Debian's libmosquitto-dev; docs/gateway.md)
tools/gateway: tools/gateway.c
	$(CC) -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I$(shell $(PG_CONFIG) --includedir) -o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq -lmosquitto

# built with the rest where libmosquitto's header is installed (tools/pgdev
# installs it); a server build of the extension does not need it
ifneq ($(wildcard /usr/include/mosquitto.h),)
all: tools/gateway
endif

# Tests, against the installed extension and a running server reached through
# PGHOST, PGPORT, PGUSER and PGDATABASE (./tools/pgdev test provides one, with
# pg_cron, pgTAP and a key file; docs/operations.md).  Each suite is a target
# of its own; `make -k installcheck` runs them all.
PROVE ?= prove
PG_PROVE ?= pg_prove

.PHONY: installcheck installcheck-pgtap installcheck-isolation installcheck-tap installcheck-units

installcheck: installcheck-pgtap installcheck-isolation installcheck-tap installcheck-units

# pgTAP files (test/pgtap), each in a transaction that is rolled back
installcheck-pgtap:
	$(PG_PROVE) --failures $(sort $(wildcard test/pgtap/*.sql))

# isolation specs (test/isolation), by pg_isolation_regress
installcheck-isolation: submake
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# TAP scripts that need sessions of their own (test/tap).  relay.t starts
# servers of its own and touches nothing of the cluster the others share:
# it runs beside them (its output follows theirs), the others one by one.
TAP_OWN_SERVERS = test/tap/relay.t
installcheck-tap:
	@rc=0; log=$$(mktemp); \
	( $(PROVE) --failures $(TAP_OWN_SERVERS) >"$$log" 2>&1 ) & own=$$!; \
	$(PROVE) --failures $(filter-out $(TAP_OWN_SERVERS),$(sort $(wildcard test/tap/*.t))) || rc=1; \
	wait $$own || rc=1; cat "$$log"; rm -f "$$log"; exit $$rc

# suites with a runner of their own: the C cores and the upgrade path (not
# test/citus/run: it needs the Citus cluster of `tools/pgdev citus`)
installcheck-units:
	$(PROVE) --failures --exec '' $(filter-out test/citus/run,$(sort $(wildcard test/*/run)))
