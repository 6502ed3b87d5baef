#!/bin/sh
# krony demo on one machine: a kronyd server (local stratum 10) and a kronyd
# client synchronising to it with iburst, on loopback, both with -x (the
# system clock is never changed).
#
# This is now the loopback variant of demo/two-hosts.sh, which as root runs
# the same pair as two hosts in network namespaces (the README's first command).
#
# Usage: examples/demo.sh [KRONYD [KRONYC]]
# (without arguments the debug binaries are built with cargo first)
set -eu
[ $# -ge 1 ] && KRONYD=$1 && export KRONYD
[ $# -ge 2 ] && KRONYC=$2 && export KRONYC
exec "$(dirname "$0")/../demo/two-hosts.sh" --loopback --debug
