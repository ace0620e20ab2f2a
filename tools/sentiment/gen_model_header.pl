#!/usr/bin/perl
#----------------------------------------------------------------------
#
# gen_model_header.pl
#		Generate src/sentiment_model_data.h, the default sentiment model as
#		C data, from its one source, src/sentiment_model.tsv.
#
#	perl tools/sentiment/gen_model_header.pl src/sentiment_model.tsv > src/sentiment_model_data.h
#
# The Makefile runs this whenever the model file changes, so the module
# always carries the model it was built with, and the header is never
# edited or committed.  tools/sentiment/train.py writes the model file.
#
# Input lines (UTF-8, one entry a line; "#" lines are comments):
#	B<TAB>bias
#	L<TAB>word<TAB>prior			a lexicon word (also used for segmentation)
#	W<TAB>feature<TAB>weight		a learned weight ("好吃", "#好吃", "!好吃", "!#好吃")
#
# Every entry is checked here with the rules the scorer and the model
# tables apply (src/sentiment_core.c, sql/70_sentiment.sql), so a bad model
# fails the build instead of a backend: keys of 1 to 64 bytes of valid
# UTF-8, no "!" or "#" at the start of a word or of a feature's name after
# its prefixes, values between -100 and 100 written as plain decimals, no
# key twice.
#
# IDENTIFICATION
#		tools/sentiment/gen_model_header.pl
#
#----------------------------------------------------------------------
use strict;
use warnings FATAL => 'all';

my $max_key_bytes = 64;		# SENT_MAX_KEY_BYTES in src/sentiment_core.h

die "usage: $0 MODEL.tsv\n" unless @ARGV == 1;
my $src = $ARGV[0];
open(my $in, '<:raw', $src) or die "$src: $!\n";

my $bias;
my (@lexicon, @weights, %seen);

sub fail
{
	my ($line, $msg) = @_;
	die "$src:$line: $msg\n";
}

# the name a key is stored under, or an error
sub check_key
{
	my ($line, $key) = @_;
	my $copy = $key;

	fail($line, "empty key") if $key eq '';
	fail($line, "key over $max_key_bytes bytes") if length($key) > $max_key_bytes;
	fail($line, "key is not valid UTF-8") unless utf8::decode($copy);
	fail($line, "key contains a control character") if $key =~ /[\x00-\x1f\x7f]/;
	fail($line, "key starts with \"!\" or \"#\"") if $key =~ /^[!#]/;
	return;
}

sub check_value
{
	my ($line, $v) = @_;

	fail($line, "value \"$v\" is not a plain decimal")
	  unless $v =~ /^-?[0-9]{1,3}(\.[0-9]+)?$/;
	fail($line, "value $v outside -100..100") if abs($v) > 100;
	# a C float literal: the compiler rounds it as float4in() rounds "0.6"
	return ($v =~ /\./ ? $v : "$v.0") . 'f';
}

while (my $l = <$in>)
{
	chomp $l;
	next if $l eq '' || $l =~ /^#/;
	my @f = split /\t/, $l, -1;
	if ($f[0] eq 'B' && @f == 2)
	{
		fail($., "bias given twice") if defined $bias;
		$bias = check_value($., $f[1]);
	}
	elsif ($f[0] eq 'L' && @f == 3)
	{
		check_key($., $f[1]);
		fail($., "lexicon word \"$f[1]\" given twice") if $seen{"L$f[1]"}++;
		push @lexicon, [ $f[1], check_value($., $f[2]) ];
	}
	elsif ($f[0] eq 'W' && @f == 3)
	{
		(my $bare = $f[1]) =~ s/^!?#?//;
		check_key($., $bare);
		fail($., "feature \"$f[1]\" given twice") if $seen{"W$f[1]"}++;
		push @weights, [ $f[1], check_value($., $f[2]) ];
	}
	else
	{
		fail($., "not a B, L or W line");
	}
}
close($in);
$bias = '0.0f' unless defined $bias;
die "$src: no lexicon words and no weights\n" unless @lexicon && @weights;

# a C string literal: UTF-8 as it is, escapes for what C reads specially
sub c_string
{
	my ($s) = @_;
	$s =~ s/([\\"])/\\$1/g;
	$s =~ s/\?/\\?/g;			# no trigraphs
	return "\"$s\"";
}

my $nlex = scalar @lexicon;
my $nw = scalar @weights;

print <<"EOF";
/*-------------------------------------------------------------------------
 *
 * sentiment_model_data.h
 *		The default sentiment model: $nlex lexicon words, $nw learned weights.
 *
 * src/sentiment_model_data.h
 *
 *-------------------------------------------------------------------------
 */

/*
 * File generated from src/sentiment_model.tsv by
 * tools/sentiment/gen_model_header.pl, do not edit.  Included by
 * src/sentiment_model.c only, so there is no #ifndef guard.
 */
typedef struct
{
	const char *key;			/* word or feature name, UTF-8 */
	float		value;			/* lexicon prior or learned weight */
} sent_default_entry;

/* added once to any text with a feature */
static const float SentDefaultBias = $bias;

/* word priors, in the order of the model file */
static const sent_default_entry SentDefaultLexicon[$nlex] =
{
EOF
print "\t{", c_string($_->[0]), ", ", $_->[1], "},\n" for @lexicon;
print <<"EOF";
};

/* learned weights, in the order of the model file */
static const sent_default_entry SentDefaultWeights[$nw] =
{
EOF
print "\t{", c_string($_->[0]), ", ", $_->[1], "},\n" for @weights;
print "};\n";
