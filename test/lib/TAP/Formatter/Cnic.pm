# SPDX-License-Identifier: Apache-2.0
#
# prove --formatter TAP::Formatter::Cnic: one TAP stream for a whole suite,
# as test/run-all.sh reads it.  Each file's results are renumbered and
# prefixed with the file's name ("ok 12 - t-bridge: ..."), its comments pass
# through, anything else becomes a comment.  A file that went wrong without
# saying so in a result line gets one "not ok" of its own: a non-zero exit
# (also after reported failures when it is a timeout, a signal or a
# sanitizer's exit code), a bail-out, malformed TAP, or no result at all.
# A file that skips itself ("1..0 # SKIP why") is one skipped result.  The
# stream ends with "1..N", "# N skipped" and "N passed, N failed".
#
# Env: CNIC_TAP_TIMEOUT (seconds, for the "timed out" message: the caller
# wraps each file in timeout(1) through prove --exec).
package TAP::Formatter::Cnic;

use strict;
use warnings;
use parent 'TAP::Formatter::Base';

sub _initialize {
	my ($self, $arg) = @_;

	$self->SUPER::_initialize($arg);
	$self->{n} = $self->{passed} = $self->{failed} = $self->{skipped} = 0;
	STDOUT->autoflush(1);
	return $self;
}

sub open_test {
	my ($self, $test, $parser) = @_;

	return TAP::Formatter::Cnic::Session->new($self, $test, $parser);
}

# emit(OK, DESC, SKIPPED): one result line of the combined stream.
sub emit {
	my ($self, $ok, $desc, $skipped) = @_;

	$self->{n}++;
	if ($skipped) {
		$self->{skipped}++;
	} elsif ($ok) {
		$self->{passed}++;
	} else {
		$self->{failed}++;
	}
	printf "%s %d - %s\n", $ok ? 'ok' : 'not ok', $self->{n}, $desc;
}

sub summary {
	my ($self, $aggregate, $interrupted) = @_;

	# prove's own verdict decides its exit status: never let it fail a run
	# this stream counted as clean.
	if (($interrupted || $aggregate->has_errors) && !$self->{failed}) {
		$self->emit(0, $interrupted ? 'run interrupted' : 'prove reports errors');
	}
	print "1..$self->{n}\n";
	print "# $self->{skipped} skipped\n" if $self->{skipped};
	print "$self->{passed} passed, $self->{failed} failed\n";
}

package TAP::Formatter::Cnic::Session;

use strict;
use warnings;
use Time::HiRes ();

my %exit_why = (
	124 => 'timed out',
	137 => 'timed out (killed)',
	86  => 'AddressSanitizer/LeakSanitizer error',
	87  => 'UndefinedBehaviorSanitizer error',
);

sub new {
	my ($class, $fmt, $test, $parser) = @_;
	my $name = $test;

	$name =~ s{.*/}{};
	$name =~ s{\.sh$}{};
	print "# $name\n";
	return bless {
		fmt => $fmt, parser => $parser, name => $name, tests => 0, fail => 0,
		bailed => 0, start => Time::HiRes::time(),
	}, $class;
}

sub result {
	my ($self, $r) = @_;
	my $name = $self->{name};
	my $raw = $r->raw;

	if ($r->is_test) {
		my $desc = $r->description;
		my $dir = $r->has_directive ? ' # ' . $r->directive . ($r->explanation ne '' ? ' ' . $r->explanation : '') : '';

		$desc =~ s/^-\s*//;
		$self->{tests}++;
		$self->{fail}++ if !$r->is_ok;
		$self->{fmt}->emit($r->is_actual_ok, "$name: $desc$dir", $r->has_directive);
	} elsif ($r->is_bailout) {
		$self->{bailed} = 1;
		$self->{fail}++;
		$self->{fmt}->emit(0, "$name: $raw");
	} elsif ($r->is_plan) {
		print "# $name: plan $raw\n";
	} elsif ($r->is_comment) {
		print "$raw\n";
	} elsif ($raw =~ /^\d+ passed, \d+ failed/) {
		print "# $name: $raw\n";
	} else {
		print "# $raw\n";
	}
}

sub close_test {
	my $self = shift;
	my $p = $self->{parser};
	my $name = $self->{name};
	my $exit = $p->exit // 0;
	my $sig = ($p->wait // 0) & 127;
	my $ms = int((Time::HiRes::time() - $self->{start}) * 1000);
	my $why;

	if ($self->{bailed}) {
		# counted when it was printed
	} elsif ($sig) {
		$why = "killed by signal $sig";
	} elsif ($exit && (!$self->{fail} || $exit >= 124 || $exit_why{$exit})) {
		$why = $exit_why{$exit} // ($exit > 128 ? 'killed by signal ' . ($exit - 128)
							 : "exited with status $exit");
		$why .= " after $ENV{CNIC_TAP_TIMEOUT}s"
			if ($exit == 124 || $exit == 137) && $ENV{CNIC_TAP_TIMEOUT};
	} elsif ($p->skip_all) {
		$self->{fmt}->emit(1, "$name # SKIP " . $p->skip_all, 1);
	} elsif (!$self->{tests}) {
		$why = 'ran no tests';
	} elsif (!$self->{fail} && $p->parse_errors) {
		$why = 'malformed TAP: ' . join('; ', $p->parse_errors);
	}
	$self->{fmt}->emit(0, "$name: $why") if defined $why;
	print "# $name: $ms ms\n";
}

1;
