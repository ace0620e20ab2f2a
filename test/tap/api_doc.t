#!/usr/bin/perl
#----------------------------------------------------------------------
#
# test/tap/api_doc.t
#		What the roles may do is documented (docs/api.md, "Roles").
#
# Every function, procedure, table and view of the extension has a
# COMMENT.  Every function a role of the extension (dispatch_app,
# dispatch_gateway, dispatch_analyst, dispatch_admin) may execute, and
# every table or view one may read, is named in docs/ (in backquotes),
# but for the families docs/api.md describes once: the routed forms of
# the calls on an order (_routed_functions()), the definer function of
# each analyst view (_analyst_views()), <view>_in_zone and
# <view>_between.  Each function of a table of docs/ with a "role"
# column exists, and exactly the roles named may execute it (with
# dispatch_admin, which may do everything dispatch_app and
# dispatch_analyst may).  The role tables of docs/operations.md name
# only what their role may do.  The signatures in those tables name the
# function's arguments in order with its defaults.  The input limits of docs/api.md are those
# of input_limits(), the jobs of docs/operations.md those of
# maintenance_jobs, and the examples of docs/sentiment.md give what they
# show.  Runs in a database of its own.
#
# IDENTIFICATION
#		test/tap/api_doc.t
#
#----------------------------------------------------------------------
use strict;
use warnings FATAL => 'all';
use Encode qw(encode);
use File::Basename qw(dirname);
use Test::More;

my $root = dirname(dirname(dirname(__FILE__)));
chdir $root or die "$root: $!\n";
my $db = 'dispatch_api_doc_t';
$ENV{PGOPTIONS} = '-c client_min_messages=warning';

sub psql
{
	my ($sql, $dbname) = @_;
	$dbname //= $db;
	open(my $fh, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
		'-F', "\t", '-d', $dbname, '-c', encode('UTF-8', $sql))
	  or die "psql: $!\n";
	my @rows = map { chomp; [ split /\t/, $_, -1 ] } <$fh>;
	close $fh or die "psql failed ($?) on: $sql\n";
	return @rows;
}

psql("DROP DATABASE IF EXISTS $db WITH (FORCE)", 'postgres');
psql("CREATE DATABASE $db", 'postgres');
END { system('psql', '-X', '-q', '-d', 'postgres', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)") if $db; }
psql('CREATE EXTENSION dispatch CASCADE');

my @roles = qw(dispatch_app dispatch_gateway dispatch_analyst dispatch_admin);
my %short = (app => 'dispatch_app', gateway => 'dispatch_gateway',
	analyst => 'dispatch_analyst', admin => 'dispatch_admin');

# the catalog: the extension's own objects
my $members = q{EXISTS (SELECT FROM pg_depend d WHERE d.classid = %s AND d.objid = %s
                           AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'dispatch'))};
my $role_list = join(', ', map { "'$_'" } @roles);
my (%fn_roles, %fn_sig);
for (psql(qq{
	SELECT p.proname, p.oid::regprocedure::text,
	       coalesce((SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY[$role_list]) r
	                  WHERE has_function_privilege(r, p.oid, 'EXECUTE')), '')
	  FROM pg_proc p
	 WHERE p.pronamespace = 'dispatch'::regnamespace
	   AND } . sprintf($members, q{'pg_proc'::regclass}, 'p.oid')))
{
	my ($name, $sig, $who) = @$_;
	$fn_sig{$name}{$sig} = { map { $_ => 1 } split /,/, $who };
	$fn_roles{$name}{$_} = 1 for split /,/, $who;
}
my %rel_roles;
for (psql(qq{
	SELECT c.relname,
	       coalesce((SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY[$role_list]) r
	                  WHERE has_table_privilege(r, c.oid, 'SELECT')), '')
	  FROM pg_class c
	 WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
	   AND } . sprintf($members, q{'pg_class'::regclass}, 'c.oid')))
{
	$rel_roles{ $_->[0] } = { map { $_ => 1 } split /,/, $_->[1] };
}
ok(keys %fn_sig > 100 && keys %rel_roles > 50, 'the catalog lists the extension\'s functions and relations');

# 1. comments
my @uncommented = map { $_->[0] } psql(q{
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'dispatch'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL
	UNION ALL
	SELECT c.oid::regclass::text FROM pg_class c
	 WHERE c.relnamespace = 'dispatch'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
	   AND obj_description(c.oid, 'pg_class') IS NULL
	ORDER BY 1});
ok(!@uncommented, 'every function, procedure, table and view has a COMMENT')
  or diag("no COMMENT: @uncommented\n");

# 2. everything a role may execute or read is named in docs/
my $docs = '';
for my $f (sort glob('docs/*.md'))
{
	open(my $fh, '<:encoding(UTF-8)', $f) or die "$f: $!\n";
	local $/;
	$docs .= <$fh>;
}
sub named
{
	my ($name) = @_;
	return $docs =~ /`(?:dispatch\.)?\Q$name\E(?:`|\()/ || $docs =~ /\bdispatch\.\Q$name\E\(/;
}
my %family;
$family{ $_->[0] } = 'a routed form' for psql(q{SELECT p.proname FROM dispatch._routed_functions() f JOIN pg_proc p ON p.oid = f});
my %analyst_view;
for (psql(q{SELECT a.view_name::text, p.proname FROM dispatch._analyst_views() a JOIN pg_proc p ON p.oid = a.reader}))
{
	my ($view, $reader) = @$_;
	$view =~ s/^dispatch\.//;
	$analyst_view{$view} = 1;
	$family{$reader} = "the reader of $view";
}
for my $name (keys %fn_roles)
{
	$family{$name} = 'a function of an analyst view'
	  if $name =~ /^(.+)_(?:in_zone|between)$/ && $analyst_view{$1};
}
my @undocumented = grep { !$family{$_} && !named($_) } sort keys %fn_roles;
ok(!@undocumented, 'every function a role may execute is named in docs/')
  or diag("not in docs/: @undocumented\n");
ok((grep { /_in_zone$/ } keys %family) && (grep { /_between$/ } keys %family)
	  && (grep { /^_confirm_payment$/ } keys %family),
	'the families documented once are found');
my @unread = grep { %{ $rel_roles{$_} } && !named($_) } sort keys %rel_roles;
ok(!@unread, 'every table and view a role may read is named in docs/')
  or diag("not in docs/: @unread\n");

# 3. the role columns of the function tables
my @wrong;
my $rows = 0;
for my $f (sort glob('docs/*.md'))
{
	open(my $fh, '<:encoding(UTF-8)', $f) or die "$f: $!\n";
	my $in = 0;
	while (my $line = <$fh>)
	{
		if ($line =~ /^\| function \| role \|/) { $in = 1; next; }
		if ($line !~ /^\|/) { $in = 0; next; }
		next if !$in || $line =~ /^\| ---/;
		my (undef, $fcell, $rcell) = split /\s*\|\s*/, $line;
		my %want = map { $short{$_} => 1 } ($rcell =~ /\b(app|admin|analyst|gateway)\b/g);
		$want{dispatch_admin} = 1 if $want{dispatch_app} || $want{dispatch_analyst};
		for my $name ($fcell =~ /`([a-z_][a-z0-9_]*)\(/g)
		{
			$rows++;
			if (!$fn_sig{$name}) { push @wrong, "$f: $name does not exist"; next; }
			for my $sig (sort keys %{ $fn_sig{$name} })
			{
				my $have = join(',', sort keys %{ $fn_sig{$name}{$sig} });
				my $doc = join(',', sort keys %want);
				push @wrong, "$f: $sig: documented $doc, granted $have" if $have ne $doc;
			}
		}
	}
}
ok($rows >= 30, "the role tables of docs/ name $rows functions");
ok(!@wrong, 'each exists and exactly the roles named may execute it') or diag(map { "$_\n" } @wrong);

# 4. docs/operations.md, "Roles": each name in a role's row is its
my @denied;
{
	open(my $fh, '<:encoding(UTF-8)', 'docs/operations.md') or die "docs/operations.md: $!\n";
	my $in = 0;
	while (my $line = <$fh>)
	{
		if ($line =~ /^\| role \|/) { $in = 1; next; }
		if ($line !~ /^\|/) { $in = 0; next; }
		next if !$in || $line =~ /^\| ---/;
		my (undef, $rcell, $what) = split /\s*\|\s*/, $line;
		my ($role) = $rcell =~ /`(dispatch_\w+)`/ or next;
		for my $name ($what =~ /`([a-z_][a-z0-9_]*)`/g)
		{
			if ($fn_roles{$name}) { push @denied, "$role may not execute $name" unless $fn_roles{$name}{$role}; }
			elsif ($rel_roles{$name}) { push @denied, "$role may not read $name" unless $rel_roles{$name}{$role}; }
			else { push @denied, "$name does not exist"; }
		}
	}
}
ok(!@denied, 'docs/operations.md names for each role only what it may do') or diag(map { "$_\n" } @denied);

# 5. docs/api.md, "Roles": the admin may do everything the app may
my @app_only = grep { $fn_roles{$_}{dispatch_app} && !$fn_roles{$_}{dispatch_admin} } sort keys %fn_roles;
ok(!@app_only, 'dispatch_admin may execute every function dispatch_app may') or diag("@app_only\n");

# 6. the signatures of the function tables: the arguments named, in order,
# are the function's first ones, every argument without a default is
# named, and a default given is the function's
my %fn_args;
push @{ $fn_args{ $_->[0] } }, $_->[1]
  for psql(q{SELECT p.proname, pg_get_function_arguments(p.oid) FROM pg_proc p
              WHERE p.pronamespace = 'dispatch'::regnamespace});
sub split_args
{
	my ($text) = @_;
	my @out;
	my ($cur, $depth) = ('', 0);
	for my $ch (split //, $text)
	{
		$depth++ if $ch eq '(';
		$depth-- if $ch eq ')';
		if ($ch eq ',' && $depth == 0) { push @out, $cur; $cur = ''; }
		else { $cur .= $ch; }
	}
	push @out, $cur if $cur =~ /\S/;
	s/^\s+|\s+$//g for @out;
	return @out;
}
my (@sig_wrong, $sigs);
for my $f (sort glob('docs/*.md'))
{
	open(my $fh, '<:encoding(UTF-8)', $f) or die "$f: $!\n";
	my $in = 0;
	while (my $line = <$fh>)
	{
		if ($line =~ /^\| function \|/) { $in = 1; next; }
		if ($line !~ /^\|/) { $in = 0; next; }
		next if !$in || $line =~ /^\| ---/;
		my (undef, $fcell) = split /\s*\|\s*/, $line;
		while ($fcell =~ /`([a-z_][a-z0-9_]*)\(([^`()]*)\)/g)
		{
			my ($name, $args) = ($1, $2);
			my @doc = split_args($args);
			next if !$fn_args{$name} || grep { /^(?:text|bytea|\.\.\.)$/ } @doc;
			$sigs++;
			my @why;
			for my $cat (@{ $fn_args{$name} })
			{
				my @have = grep { !/^OUT / } split_args($cat);
				my @names = map { (split / /)[0] } @have;
				my @dnames = map { (split / /)[0] } @doc;
				my $required = grep { !/ DEFAULT / } @have;
				if ("@dnames" ne "@names[0 .. $#dnames]" || @dnames < $required)
				{
					push @why, "($cat)";
					next;
				}
				@why = ();
				for my $i (0 .. $#doc)
				{
					my ($dv) = $doc[$i] =~ /(?: DEFAULT |\s*=\s*)(.+)$/ or next;
					my ($cv) = $have[$i] =~ / DEFAULT (.+)$/;
					$dv =~ s/^'|'$//g;
					push @why, "$doc[$i]: the function has " . ($cv // 'no default')
					  unless defined $cv && ($cv =~ /^'?\Q$dv\E(?:'|::|$)/ || ($cv =~ /^[\d.]+$/ && $dv =~ /^[\d.]+$/ && $cv == $dv));
				}
				last;
			}
			push @sig_wrong, "$f: $name($args): @why" if @why;
		}
	}
}
ok($sigs >= 60, "the function tables of docs/ give $sigs signatures");
ok(!@sig_wrong, 'each names the function\'s arguments in order, all without a default, with the function\'s defaults')
  or diag(map { "$_\n" } @sig_wrong);

# 7. docs/api.md, "Input limits": each limit named is input_limits()'s
my %limit = map { $_->[0] => "$_->[1] $_->[2]" } psql('SELECT input, max_length, unit FROM dispatch.input_limits()');
my (%doc_limit, @limit_wrong);
{
	open(my $fh, '<:encoding(UTF-8)', 'docs/api.md') or die "docs/api.md: $!\n";
	my $in = 0;
	while (my $line = <$fh>)
	{
		$in = 1 if $line =~ /^## Input limits/;
		$in = 0 if $in && $line =~ /^## (?!Input limits)/;
		next unless $in && $line =~ /^\| `/;
		while ($line =~ /(\d+) (characters|lines|items)[^`|]*\(`(\w+)`/g)
		{
			my ($n, $unit, $name) = ($1, $2, $3);
			$unit = 'lines' if $unit eq 'items';
			$doc_limit{$name} = 1;
			push @limit_wrong, "$name: documented $n $unit, input_limits() " . ($limit{$name} // 'nothing')
			  if ($limit{$name} // '') ne "$n $unit";
		}
	}
}
ok(!@limit_wrong, 'the limits of docs/api.md are those of input_limits()') or diag(map { "$_\n" } @limit_wrong);
my @limit_missing = grep { !$doc_limit{$_} } sort keys %limit;
ok(!@limit_missing, 'and it names every one') or diag("not in docs/api.md: @limit_missing\n");

# 8. docs/operations.md: the table of scheduled jobs is maintenance_jobs
my %job = map { $_->[0] => $_->[1] } psql('SELECT jobname, schedule FROM dispatch.maintenance_jobs WHERE enabled');
my %doc_job;
{
	open(my $fh, '<:encoding(UTF-8)', 'docs/operations.md') or die "docs/operations.md: $!\n";
	while (my $line = <$fh>)
	{
		$doc_job{$1} = $2 if $line =~ /^\| `(dispatch-[\w-]+)` \| `([^`]+)` \|/;
	}
}
is(join("\n", map { "$_ $doc_job{$_}" } sort keys %doc_job), join("\n", map { "$_ $job{$_}" } sort keys %job),
	'the jobs of docs/operations.md are the enabled rows of maintenance_jobs, with their schedules');

# 9. docs/sentiment.md: the examples give what they show
my @example_wrong;
my $examples = 0;
{
	open(my $fh, '<:encoding(UTF-8)', 'docs/sentiment.md') or die "docs/sentiment.md: $!\n";
	while (my $line = <$fh>)
	{
		next unless $line =~ /^(SELECT dispatch\.(sentiment|feedback_topics)\('[^']*'\));\s*--\s*(\S+)\s*$/;
		my ($query, $fn, $shown) = ($1, $2, $3);
		$examples++;
		$query = "SELECT round(($query)::numeric, 2)" if $fn eq 'sentiment';
		my ($got) = map { $_->[0] } psql($query);
		push @example_wrong, "$query: shown $shown, gives $got"
		  if $fn eq 'sentiment' ? $got != $shown : $got ne $shown;
	}
}
ok($examples >= 5 && !@example_wrong, "the $examples examples of docs/sentiment.md give what they show")
  or diag(map { "$_\n" } @example_wrong);

done_testing();
