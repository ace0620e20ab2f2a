#!/usr/bin/env perl
# test/citus/city.t: the small city of test/tap/city.t (tools/sim, docs/sim.md)
# on the Citus cluster of `tools/pgdev citus`, its tables distributed (by this
# test when nothing is distributed yet).  Both strategies play in turn in the
# cluster's database (a database of its own would need Citus, dispatch and
# distribute() on every node), each in zones of its own.  The sim finds the
# tables distributed: each call carries the simulated clock to the workers
# (SET LOCAL in a transaction block of its own) and the outbox is polled per
# zone with events_since, as a gateway does.  Every order ends delivered or
# cancelled, most delivered; every event of the outbox is read once, each
# order's in version order; no rider is given an order past the shift limit;
# delivery times are physically possible and lie in the simulated day part
# (the workers read the simulated clock); and the orders really lie on both
# workers, none on the coordinator.  Event latency is not measured here.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $sim = "$root/tools/sim";
plan skip_all => 'run through tools/pgdev citus' unless $ENV{PGDEV_WORKER_PORTS};
plan skip_all => 'tools/sim is not built (make)' unless -x $sim;

# one statement's rows, as lines of |-separated fields
sub rows_of
{
	my ($sql) = @_;
	open(my $ph, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
		'-c', 'SET client_min_messages = warning', '-c', $sql) or die "psql: $!";
	my @rows = map { chomp; $_ } <$ph>;
	close $ph or die "psql failed on: $sql";
	return @rows;
}

rows_of("SELECT count(*) FROM dispatch.distribute()
    WHERE NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = 'dispatch.orders'::regclass)");
my ($distributed) = rows_of("SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'dispatch.orders'::regclass");
is($distributed, 1, 'dispatch.orders is distributed');

my $db = $ENV{PGDATABASE} // 'dispatch';
my $dir = tempdir(CLEANUP => 1);
my @city = ('--quiet', '--seed', '7', '--zones', '2', '--side-km', '8', '--merchants', '12',
	'--customers', '200', '--riders', '28', '--peak', '3', '--from', '11:50', '--to', '12:10',
	'--connections', '3', '--max-shift', '45', '--database', $db, '--json', "$dir/city.json");
my $out = `"$sim" @city 2>&1`;
is($? >> 8, 0, 'the small city runs with both strategies on the cluster') or diag($out);
like($out, qr/tables are distributed \(Citus\)/, 'the sim plays it as a Citus city');
unlike($out, qr/^(?:WARNING|NOTICE):/m, 'the cluster raised no warning on any call');

open(my $fh, '<', "$dir/city.json") or BAIL_OUT("no JSON report: $out");
my $j = decode_json(do { local $/; <$fh> });
close $fh;
my ($d, $g) = @{ $j->{strategies} }{qw(dispatch greedy)};
ok($d && $g, 'the JSON report has both strategies');

cmp_ok($d->{placed}, '>', 25, 'orders were placed');
is($g->{placed} + $g->{refused}, $d->{placed} + $d->{refused}, 'both strategies get the same demand');
my %zones;
for my $s ([dispatch => $d], [greedy => $g])
{
	my ($name, $r) = @$s;
	ok($r->{citus}, "$name: played on Citus");
	is(scalar @{ $r->{zone_ids} }, 4, "$name: in four zones of its own");
	$zones{$_}++ for @{ $r->{zone_ids} };
	is($r->{delivered} + $r->{cancelled}, $r->{placed}, "$name: every order ends delivered or cancelled");
	cmp_ok($r->{delivered}, '>', 0.8 * $r->{placed}, "$name: most orders are delivered");
	cmp_ok($r->{events}{outbox}, '>', 5 * $r->{placed}, "$name: the orders' events are in the outbox");
	is($r->{events}{missed}, 0, "$name: the per-zone cursors read every event of the outbox");
	is($r->{events}{received}, $r->{events}{outbox}, "$name: each event once");
	is($r->{events}{out_of_order}, 0, "$name: each order's events came in version order");
	is($r->{events}{latency_ms}, undef, "$name: no event latency is claimed (polled)");
	is($r->{fatigue_breaches}, 0, "$name: nobody got an order past the shift limit");
	cmp_ok($r->{click_to_door_min}{median}, '>', 4.5, "$name: click to door is physically possible");
	cmp_ok($r->{click_to_door_min}{mean}, '>=', $r->{click_to_door_min}{lower_bound_mean},
		"$name: the mean is not below its physical lower bound");
	is($r->{below_lower_bound}, 0, "$name: no order delivered faster than its food ready plus the direct ride");
	is($r->{below_approach_bound}, 0,
		"$name: no order picked up sooner after its assignment than the ride from where the rider was");
	is($r->{open}, 0, "$name: none is left open, and the report says so");
	is($r->{feedback}, $r->{feedback_written}, "$name: the feedback counted is the feedback written");
	cmp_ok($r->{click_to_door_min}{p90}, '<', 120, "$name: and no longer than the simulated day part");
	cmp_ok($r->{batches}, '>', 0, "$name: batches ran");
	cmp_ok($r->{feedback}, '>', 0, "$name: customers left feedback, scored");
	note("$name: $r->{placed} orders, $r->{events}{outbox} events, $r->{wall_s} s");
}
is(scalar keys %zones, 8, 'the two runs played in different zones');
cmp_ok($d->{payments_failed}, '>', 0, 'some payments failed');
cmp_ok($d->{rejections}, '>', 0, 'riders rejected some offers (dispatch)');
cmp_ok($g->{rejections}, '>', 0, 'riders refused some greedy assignments too: the same riders');

# the simulated clock reached the statements run on the workers: every
# order and event of the city lies in the simulated day part (2026-11-30,
# from 11:20, the city built, to 13:40 at the latest, the run drained; +08)
my $arr = '{' . join(',', sort { $a <=> $b } keys %zones) . '}';
my $in = "'$arr'::bigint[]";
my $day = "'2026-11-30 11:00+08' AND '2026-11-30 14:00+08'";
my ($outside) = rows_of("SELECT count(*) FROM dispatch.orders
                          WHERE zone_id = ANY ($in)
                            AND (created_at NOT BETWEEN $day
                                 OR coalesce(picked_up_at, created_at) NOT BETWEEN created_at AND '2026-11-30 14:00+08'
                                 OR coalesce(delivered_at, picked_up_at, created_at)
                                    NOT BETWEEN coalesce(picked_up_at, created_at) AND '2026-11-30 14:00+08')");
is($outside, 0, 'every order of the city was stamped with the simulated clock, in order')
	or diag(join("\n", rows_of("SELECT status, count(*), min(created_at), max(created_at), max(delivered_at)
	                              FROM dispatch.orders WHERE zone_id = ANY ($in) GROUP BY status")));
my ($ev_outside) = rows_of("SELECT count(*) FROM dispatch.events WHERE zone_id = ANY ($in) AND at NOT BETWEEN $day");
is($ev_outside, 0, 'so was every event (written on the workers)')
	or diag(join("\n", rows_of("SELECT zone_id, kind, count(*), min(at), max(at) FROM dispatch.events
	                             WHERE zone_id = ANY ($in) AND at NOT BETWEEN $day GROUP BY 1, 2 ORDER BY 1, 2")));

# the orders really are distributed: rows on both workers, none on the coordinator
my %on;
for (rows_of("SELECT nodeport, result FROM run_command_on_placements('dispatch.orders',
          'SELECT count(*) FROM %s WHERE zone_id = ANY (''$arr''::bigint[])')"))
{
	my ($port, $n) = split /\|/;
	$on{$port} += $n;
}
my @workers = split ' ', $ENV{PGDEV_WORKER_PORTS};
is_deeply([ sort grep { $on{$_} } keys %on ], [ sort @workers ], "the city's orders lie on both workers (@workers)")
	or diag(explain(\%on));
my $rows = 0;
$rows += $_ for values %on;
is($rows, $d->{placed} + $g->{placed}, 'the shards hold every order placed, each once');

done_testing();
