#!/usr/bin/perl
# SANDBOX_NETWORK=egress for the docker provider: the container has no network, so the proxy address its
# commands are given (127.0.0.1:<port>) is served by this relay, run through the engine's exec API with
# stdin and stdout wired to the server. Perl because perl-base is part of every Debian and Ubuntu image;
# core modules only. It moves bytes and decides nothing: the server's proxy decides what passes.
#
#   egress-relay.pl listen <port>   listens on 127.0.0.1:<port> and on an ephemeral loopback port, prints
#                                   "port <n>" for the latter, then "open" for every proxy client. The
#                                   server answers each "open" with a bridge to port <n>, which is paired
#                                   with the oldest waiting client (or kept as a spare for the next one:
#                                   the server opens one ahead, so a client need not wait for an exec),
#                                   or with a "refuse" line (the sandbox holds its connection cap), which
#                                   answers that client 503 (and says "refused"). Ends when the server
#                                   closes stdin.
#   egress-relay.pl bridge <n>      connects to 127.0.0.1:<n> and copies stdin to it and it to stdout. The
#                                   server's end of input is passed on as a half close; the client's ends
#                                   the bridge (the exec's end is the only end the server sees).
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);

$SIG{PIPE} = 'IGNORE';
my $CHUNK = 65536;
my $REFUSED = "sandbox-mcp egress proxy: this sandbox already holds the most proxy connections "
  . "SANDBOX_EGRESS_MAX_CONNECTIONS allows (or opens them faster than 40 a second). Close some (or let "
  . "them finish) and retry; the operator may raise SANDBOX_EGRESS_MAX_CONNECTIONS.\n";

# Copies between two handle pairs until both directions ended, passing each end on as a half close;
# an end of input on $last_word ends both at once.
sub copy_both {
  my ($in_a, $out_a, $in_b, $out_b, $last_word) = @_;
  my %to = ($in_a => $out_a, $in_b => $out_b);
  my $select = IO::Select->new($in_a, $in_b);
  while ($select->count) {
    for my $from ($select->can_read) {
      my $got = sysread($from, my $data, $CHUNK);
      if (!$got) {
        return if defined $last_word && $from == $last_word;
        $select->remove($from);
        if (-S $to{$from}) { shutdown($to{$from}, SHUT_WR) } else { close($to{$from}) }
        next;
      }
      my $off = 0;
      while ($off < $got) {
        my $put = syswrite($to{$from}, $data, $got - $off, $off);
        return unless defined $put;
        $off += $put;
      }
    }
  }
}

sub listener {
  my ($port) = @_;
  my $socket = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 128, ReuseAddr => 1);
  die "egress relay: cannot listen on 127.0.0.1:$port: $!\n" unless $socket;
  return $socket;
}

sub listen_mode {
  my ($port) = @_;
  # Children copy one connection each and are never waited for.
  $SIG{CHLD} = 'IGNORE';
  my $proxy = listener($port);
  my $back = listener(0);
  STDOUT->autoflush(1);
  print "port ", $back->sockport, "\n";
  my $select = IO::Select->new($proxy, $back, \*STDIN);
  my (@waiting, @spare, $commands);
  $commands = '';
  # Copies one client and one bridge in a child process of their own.
  my $pair = sub {
    my ($client, $bridge) = @_;
    my $pid = fork;
    if (defined $pid && $pid == 0) {
      close $proxy;
      close $back;
      copy_both($client, $bridge, $bridge, $client);
      exit 0;
    }
    close $client;
    close $bridge;
  };
  while (1) {
    for my $ready ($select->can_read) {
      if ($ready == $proxy) {
        my $client = $proxy->accept or next;
        # A spare bridge (one the server opened ahead) serves the client at once; either way the server
        # is asked for one more.
        my $bridge = shift @spare;
        if ($bridge) { $select->remove($bridge); $pair->($client, $bridge) }
        else { push @waiting, $client }
        print "open\n";
      } elsif ($ready == $back) {
        my $bridge = $back->accept or next;
        my $client = shift @waiting;
        if ($client) { $pair->($client, $bridge) }
        elsif (@spare < 2) { push @spare, $bridge; $select->add($bridge) }
        else { close $bridge }
      } elsif (grep { $_ == $ready } @spare) {
        # A spare bridge says something before any client (it ended): it is of no use any more.
        @spare = grep { $_ != $ready } @spare;
        $select->remove($ready);
        close $ready;
      } else {
        my $got = sysread(STDIN, my $data, 4096);
        exit 0 unless $got;
        $commands .= $data;
        while ($commands =~ s/^([^\n]*)\n//) {
          next unless $1 eq 'refuse';
          my $client = shift @waiting or next;
          syswrite($client,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
              . "Content-Length: " . length($REFUSED) . "\r\nConnection: close\r\n\r\n$REFUSED");
          close $client;
          print "refused\n";
        }
        $commands = '' if length($commands) > 4096;
      }
    }
  }
}

sub bridge_mode {
  my ($port) = @_;
  my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or exit 7;
  binmode(STDIN);
  binmode(STDOUT);
  copy_both(\*STDIN, $sock, $sock, \*STDOUT, $sock);
}

my ($mode, $port) = @ARGV;
die "usage: egress-relay.pl listen|bridge <port>\n" unless defined $port && $port =~ /^\d+$/;
if ($mode eq 'listen') { listen_mode($port) }
elsif ($mode eq 'bridge') { bridge_mode($port) }
else { die "egress relay: unknown mode $mode\n" }
