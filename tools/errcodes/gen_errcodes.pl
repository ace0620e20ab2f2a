#!/usr/bin/perl
#----------------------------------------------------------------------
#
# gen_errcodes.pl
#		Generate src/errcodes.h (the C macros) or docs/errors.md (the
#		reference) from the one list of dispatch's SQLSTATEs,
#		src/errcodes.txt, as PostgreSQL generates utils/errcodes.h from
#		src/backend/utils/errcodes.txt.
#
#	perl tools/errcodes/gen_errcodes.pl --header src/errcodes.txt > src/errcodes.h
#	perl tools/errcodes/gen_errcodes.pl --docs src/errcodes.txt > docs/errors.md
#	perl tools/errcodes/gen_errcodes.pl --list src/errcodes.txt
#
# The Makefile runs the first two.  The header is build output, never
# committed; docs/errors.md is committed so that it reads on the web, and
# test/errcodes/run fails if it differs from what this writes.  --list
# prints "sqlstate<TAB>macro" lines for that test.
#
# The list's format is described at the top of src/errcodes.txt.  Every
# line is checked here, so a malformed list fails the build: five fields,
# a code of the form DPnnn inside its section's range, in ascending order,
# no code or macro twice, no "|" in a field.
#
# IDENTIFICATION
#		tools/errcodes/gen_errcodes.pl
#
#----------------------------------------------------------------------
use strict;
use warnings FATAL => 'all';
use Text::Wrap qw(wrap $columns);

my %modes = map { $_ => 1 } qw(--header --docs --list);
die "usage: $0 --header|--docs|--list ERRCODES.txt\n"
  unless @ARGV == 2 && $modes{ $ARGV[0] };
my ($mode, $src) = @ARGV;
open(my $in, '<:encoding(UTF-8)', $src) or die "$src: $!\n";

# the sections, in file order: { range, title, codes => [ {...}, ... ] }
my @sections;
my (%seen_code, %seen_macro);

sub fail
{
	my ($msg) = @_;
	die "$src:$.: $msg\n";
}

while (my $line = <$in>)
{
	chomp $line;
	next if $line =~ /^\s*$/ || $line =~ /^#/;
	fail("trailing white space") if $line =~ /\s$/;

	if ($line =~ /^Section: /)
	{
		$line =~ /^Section: (DP\dxx)\t([^\t]+)$/
		  or fail("a section line is \"Section: DPnxx<TAB>title\"");
		fail("section $1 twice") if grep { $_->{range} eq $1 } @sections;
		push @sections, { range => $1, title => $2, codes => [] };
		next;
	}

	my @f = split /\t/, $line, -1;
	fail("expected 5 tab-separated fields, found " . scalar(@f))
	  unless @f == 5;
	my ($code, $macro, $raised_by, $meaning, $hint) = @f;
	for (@f)
	{
		fail("empty field") if $_ eq '';
		fail("\"|\" in a field") if /\|/;
		fail("white space at the edge of a field") if /^\s|\s$/;
	}
	fail("\"$code\" is not a SQLSTATE of the form DPnnn")
	  unless $code =~ /^DP\d{3}$/;
	fail("\"$macro\" is not of the form ERRCODE_DP_NAME")
	  unless $macro =~ /^ERRCODE_DP_[A-Z0-9_]+$/;
	fail("$code comes before any Section line") unless @sections;
	my $s = $sections[-1];
	my $digit = substr($s->{range}, 2, 1);
	fail("$code is outside section $s->{range}")
	  unless substr($code, 2, 1) eq $digit;
	fail("$code comes after $s->{codes}[-1]{code}")
	  if @{ $s->{codes} } && $s->{codes}[-1]{code} ge $code;
	fail("$code listed twice") if $seen_code{$code}++;
	fail("$macro listed twice") if $seen_macro{$macro}++;

	push @{ $s->{codes} },
	  {
		code => $code,
		macro => $macro,
		raised_by => $raised_by,
		meaning => $meaning,
		hint => $hint
	  };
}
close $in;
die "$src: no codes\n" unless %seen_code;
for my $s (@sections)
{
	die "$src: section $s->{range} has no codes\n" unless @{ $s->{codes} };
}

binmode STDOUT, ':encoding(UTF-8)';

if ($mode eq '--list')
{
	for my $s (@sections)
	{
		print "$_->{code}\t$_->{macro}\n" for @{ $s->{codes} };
	}
}
elsif ($mode eq '--header')
{
	print <<"EOT";
/*
 * src/errcodes.h
 *		The SQLSTATEs of class DP, for ereport(ERROR, errcode(...), ...).
 *
 * Generated from src/errcodes.txt by tools/errcodes/gen_errcodes.pl; do not
 * edit.  docs/errors.md says what each code means.
 */
#ifndef DISPATCH_ERRCODES_H
#define DISPATCH_ERRCODES_H
EOT
	for my $s (@sections)
	{
		print "\n/* $s->{range} - $s->{title} */\n";
		for my $c (@{ $s->{codes} })
		{
			my @ch = split //, $c->{code};
			printf "#define %s MAKE_SQLSTATE(%s)\n", $c->{macro},
			  join(',', map { "'$_'" } @ch);
		}
	}
	# every code with its short name (the macro's, lower case), as an
	# X-macro: src/refusals.c names the reason of a refused attempt by it
	print "\n/* DISPATCH_ERRCODE_NAMES(X): X(macro, \"short_name\") for every code */\n";
	print "#define DISPATCH_ERRCODE_NAMES(X) \\\n";
	my @all = map { @{ $_->{codes} } } @sections;
	for my $i (0 .. $#all)
	{
		my $short = lc($all[$i]{macro} =~ s/^ERRCODE_DP_//r);
		printf "\tX(%s, \"%s\")%s\n", $all[$i]{macro}, $short,
		  $i == $#all ? '' : ' \\';
	}
	print "\n#endif\t\t\t\t\t\t\t/* DISPATCH_ERRCODES_H */\n";
}
else
{
	my @ranges = map { "`$_->{range}` $_->{title}" } @sections;
	my $ranges = join(', ', @ranges[ 0 .. $#ranges - 1 ]) . " and $ranges[-1]";
	$columns = 77;
	my $grouped = wrap('', '',
		"Codes are grouped: $ranges. The pages of each part "
		  . "(`docs/matching.md`, `docs/operations.md`, `docs/sentiment.md`) "
		  . "explain when their codes occur. A hint that applies to one case "
		  . "only starts with that case.");
	print <<"EOT";
<!-- Generated from src/errcodes.txt by tools/errcodes/gen_errcodes.pl: edit the list, not this file. -->
# SQLSTATEs of class DP

Every condition a caller can reach raises an error with its own SQLSTATE in
class `DP`. A refused call leaves nothing behind: no order, line, payment,
event or stock change. A call that repeats one already made with the same
effect is not refused: it is a no-op (`docs/api.md`, Retries).

$grouped

This page is generated from one list, `src/errcodes.txt`, which also gives
the C code its macros (`src/errcodes.h`, `ERRCODE_DP_...`); SQL raises the
literal code. `test/errcodes/run` checks that every code raised is listed,
that every listed code is raised, and that a test asserts each one.
EOT
	for my $s (@sections)
	{
		print "\n## $s->{range}: $s->{title}\n\n";
		print "| SQLSTATE | raised by | meaning | hint |\n";
		print "| --- | --- | --- | --- |\n";
		for my $c (@{ $s->{codes} })
		{
			printf "| %s | %s | %s | %s |\n", $c->{code}, $c->{raised_by},
			  $c->{meaning}, $c->{hint} eq '-' ? '' : $c->{hint};
		}
	}
}
