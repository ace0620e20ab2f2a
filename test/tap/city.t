#!/usr/bin/env perl
# test/tap/city.t: the synthetic city (tools/sim's default mode), small:
# both strategies serve the same demand through the SQL API over several
# connections, every order ends delivered or cancelled, a listener hears
# every event of the outbox in order per order, no rider is given an order
# past the shift limit, no delivery is faster than its food ready plus the
# direct ride, no pickup sooner after the assignment than the ride from
# where the rider was, every figure lies in its range, and the text, JSON
# and HTML reports hold the same figures (a run without orders too).
# Bad flags are refused with exit status 2.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $sim = "$root/tools/sim";
plan skip_all => 'tools/sim is not built (make)' unless -x $sim;

my $dir = tempdir(CLEANUP => 1);
my @city = ('--quiet', '--seed', '7', '--zones', '2', '--side-km', '8', '--merchants', '24',
	'--customers', '400', '--riders', '60', '--peak', '6', '--from', '11:40', '--to', '12:10',
	'--connections', '3', '--max-shift', '45', '--json', "$dir/city.json", '--html', "$dir/city.html");
my $out = `"$sim" @city 2>&1`;
is($? >> 8, 0, 'the small city runs with both strategies') or diag($out);
like($out, qr/^\s+dispatch\s+greedy$/m, 'the report shows both strategies side by side');

open(my $fh, '<', "$dir/city.json") or BAIL_OUT("no JSON report: $out");
my $j = decode_json(do { local $/; <$fh> });
close $fh;
my ($d, $g) = @{ $j->{strategies} }{qw(dispatch greedy)};
ok($d && $g, 'the JSON report has both strategies');

cmp_ok($d->{placed}, '>', 50, 'orders were placed');
is($g->{placed} + $g->{refused}, $d->{placed} + $d->{refused}, 'both strategies get the same demand');
is($g->{coupons}, $d->{coupons}, 'the same orders use the coupon under both');
is("$g->{payments_failed} / $g->{payments_retried}", "$d->{payments_failed} / $d->{payments_retried}",
	'the same payments fail and are retried under both');
for my $s ([dispatch => $d], [greedy => $g])
{
	my ($name, $r) = @$s;
	is($r->{delivered} + $r->{cancelled}, $r->{placed}, "$name: every order ends delivered or cancelled");
	is($r->{open}, 0, "$name: none is left open, and the report says so");
	cmp_ok($r->{delivered}, '>', 0.8 * $r->{placed}, "$name: most orders are delivered");
	is($r->{events}{missed}, 0, "$name: the listener heard every event of the outbox");
	is($r->{events}{out_of_order}, 0, "$name: each order's events arrived in version order");
	cmp_ok($r->{events}{received}, '>=', $r->{events}{outbox}, "$name: as many notifications as events");
	is($r->{fatigue_breaches}, 0, "$name: nobody got an order past the shift limit");
	# a delivery takes at least the merchant's shortest preparation (6
	# minutes, less the 30 % the noise may take off) and the merchant's
	# first reaction (20 s)
	cmp_ok($r->{click_to_door_min}{median}, '>', 4.5, "$name: click to door is physically possible");
	cmp_ok($r->{click_to_door_min}{mean}, '>=', $r->{click_to_door_min}{lower_bound_mean},
		"$name: the mean is not below its physical lower bound");
	is($r->{below_lower_bound}, 0, "$name: no order delivered faster than its food ready plus the direct ride");
	# a tick's ride is the time since the tick before: an order given in a
	# tick is ridden to from the next one, not before it was the rider's
	is($r->{below_approach_bound}, 0,
		"$name: no order picked up sooner after its assignment than the ride from where the rider was");
	cmp_ok($r->{click_to_door_min}{p90}, '>=', $r->{click_to_door_min}{median}, "$name: p90 >= median");
	cmp_ok($r->{batches}, '>', 0, "$name: batches ran and were timed");
	cmp_ok($r->{batch_ms}{p50}, '<=', $r->{batch_ms}{p99}, "$name: batch latency p50 <= p99");
	cmp_ok($r->{events}{latency_ms}{p50}, '<=', $r->{events}{latency_ms}{p99}, "$name: event latency p50 <= p99");
	for my $f (qw(on_time utilisation earnings_gini))
	{
		ok($r->{$f} >= 0 && $r->{$f} <= 1, "$name: $f $r->{$f} lies in [0, 1]");
	}
	for my $f (qw(rider_wait_at_merchant_min food_wait_min))
	{
		cmp_ok($r->{$f}, '>=', 0, "$name: $f is not negative");
	}
	cmp_ok($r->{feedback}, '>', 0, "$name: customers left feedback, scored");
	is($r->{feedback}, $r->{feedback_written}, "$name: the feedback counted is the feedback written");
	ok($r->{sentiment} >= -1 && $r->{sentiment} <= 1, "$name: sentiment $r->{sentiment} lies in [-1, 1]");
	ok($r->{tickets_resolved} <= $r->{tickets_opened} && $r->{tickets_opened} <= $r->{feedback},
		"$name: tickets resolved ($r->{tickets_resolved}) <= opened ($r->{tickets_opened}) <= reviews");
	my ($topic) = sort { $b <=> $a } values %{ $r->{top_complaints} };
	cmp_ok($topic // 0, '<=', $r->{feedback}, "$name: no complaint topic counted more often than there are reviews");
	my $h = 0;
	$h += $_ for @{ $r->{click_to_door_histogram_5min} };
	is($h, $r->{delivered}, "$name: the histogram counts every delivery");
}
cmp_ok($d->{payments_failed}, '>', 0, 'some payments failed');
cmp_ok($d->{coupons}, '>', 0, 'some orders used the coupon');
cmp_ok($d->{rejections}, '>', 0, 'riders rejected some offers (dispatch)');
cmp_ok($g->{rejections}, '>', 0, 'riders refused some greedy assignments too: the same riders');

# the text report shows the JSON's figures
for my $row (['  orders placed', 'placed'], ['    delivered', 'delivered'], ['    cancelled', 'cancelled'],
	['    open at the end', 'open'], ['    orders below their bound \(must be 0\)', 'below_lower_bound'],
	['    pickups below their ride \(must be 0\)', 'below_approach_bound'])
{
	my ($label, $key) = @$row;
	like($out, qr/^$label\s+$d->{$key}\s+$g->{$key}$/m, "the text report shows $key as the JSON has it");
}
like($out, qr/^  click to door, mean \(min\)\s+\Q${\ sprintf('%.1f', $d->{click_to_door_min}{mean})}\E\s+\Q${\ sprintf('%.1f', $g->{click_to_door_min}{mean})}\E$/m,
	'the text report shows the mean click to door as the JSON has it');
like($out, qr/^  on time \(by the promise\)\s+\Q${\ sprintf('%.1f', 100 * $d->{on_time})}\E%\s+\Q${\ sprintf('%.1f', 100 * $g->{on_time})}\E%$/m,
	'the text report shows the on-time share as the JSON has it');
like($out, qr{^    complaint tickets opened / resolved\s+$d->{tickets_opened} / $d->{tickets_resolved}\s+$g->{tickets_opened} / $g->{tickets_resolved}$}m,
	'the text report shows the tickets opened and resolved');

open($fh, '<', "$dir/city.html") or BAIL_OUT('no HTML report');
my $html = do { local $/; <$fh> };
close $fh;
like($html, qr/<svg[^>]*click-to-door histogram/, 'the page has the delivery-time histogram');
like($html, qr/<svg[^>]*demand heatmap/, 'the page has the demand heatmap');
like($html, qr/<svg[^>]*earnings per rider/, 'the page has the earnings distribution');
unlike($html, qr/(?:src|href)\s*=\s*['"]?https?:/i, 'the page loads nothing from the network');
unlike($html, qr{https?://|url\(|\@import|<script|<link|<img|<iframe}i, 'the page names no other resource at all');
unlike($html, qr/\+86|Customer \d|Building \d/, 'the page holds no personal data');
# the page's histogram is the JSON's, bin by bin, the last bin open-ended
for my $s ([dispatch => $d], [greedy => $g])
{
	my ($name, $r) = @$s;
	my @bins = $html =~ /<title>\Q$name\E (\d+(?:-\d+|\+)) min: \d+<\/title>/g;
	my @counts = $html =~ /<title>\Q$name\E \d+(?:-\d+|\+) min: (\d+)<\/title>/g;
	is_deeply(\@counts, $r->{click_to_door_histogram_5min}, "$name: the page's histogram is the JSON's");
	is($bins[-1], (@bins - 1) * 5 . '+', "$name: the page's last bin holds every delivery from its start on");
	is($bins[0], '0-5', "$name: the page's first bin is 0-5 minutes");
}
my $heat = 0;
$heat += $_ for $html =~ /<title>(\d+) orders<\/title>/g;
is($heat, $d->{delivered}, "the page's heatmap holds every order delivered under dispatch");
like($html, qr/Orders delivered under dispatch by drop-off/, 'the heatmap says whose deliveries it shows');
like($html, qr{<td>open at the end</td><td>$d->{open}</td><td>$g->{open}</td>}, 'the page shows the orders left open');

# a run where nothing is ordered: no figure of an empty population, and
# the JSON still parses (null, not nan); it starts at midnight, on several
# connections
$out = `"$sim" --quiet --zones 1 --merchants 4 --customers 20 --riders 8 --peak 1 --from 00:00 --to 00:01 --connections 3 --json "$dir/empty.json" --html "$dir/empty.html" 2>&1`;
is($? >> 8, 0, 'a run without orders runs') or diag($out);
unlike($out, qr/\bnan\b/i, 'its text report shows no nan');
open($fh, '<', "$dir/empty.json") or BAIL_OUT("no JSON report: $out");
my $e = eval { decode_json(do { local $/; <$fh> }) };
close $fh;
ok($e, 'its JSON report parses') or diag($@);
$d = $e ? $e->{strategies}{dispatch} : {};
is($d->{placed}, 0, 'nothing was ordered');
ok(exists $d->{click_to_door_min}{median} && !defined $d->{click_to_door_min}{median},
	'the median of no delivery is null');
ok(exists $d->{batch_ms}{p50} && !defined $d->{batch_ms}{p50}, 'the batch latency of no batch is null');
open($fh, '<', "$dir/empty.html") or BAIL_OUT('no HTML report');
$html = do { local $/; <$fh> };
close $fh;
unlike($html, qr/\bnan\b/i, 'its page shows no nan');

# bad flags
for my $bad (['--riders', '0'], ['--from', '25:00'], ['--strategy', 'random'], ['--nonsense', '1'])
{
	`"$sim" @$bad 2>/dev/null`;
	is($? >> 8, 2, "refused: @$bad");
}
my $help = `"$sim" --help`;
is($? >> 8, 0, '--help');
# every flag docs/sim.md names is one --help lists
open($fh, '<', "$root/docs/sim.md") or BAIL_OUT('no docs/sim.md');
my $doc = do { local $/; <$fh> };
close $fh;
my %flags;
for my $code ($doc =~ /`([^`\n]+)`/g)
{
	next if $code =~ /gateway/;	# tools/gateway's flags
	$flags{$_} = 1 for grep { $_ ne '--help' } $code =~ /(--[a-z][a-z-]+)/g;
}
for my $flag (sort keys %flags)
{
	like($help, qr/^\s+\Q$flag\E\b/m, "--help lists $flag, which docs/sim.md names");
}
like($help, qr/--peak N .*\n.*21\.6 a minute at 12:00/, '--help says what --peak gives at 12:00');

done_testing();
