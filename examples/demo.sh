#!/bin/sh
# krony demo on one machine: a kronyd server (local stratum 10) and a kronyd
# client synchronising to it with iburst, on loopback, both with -x (the
# system clock is never changed). Needs root for nothing but may run as root.
#
# Usage: examples/demo.sh [KRONYD [KRONYC]]
# (defaults: target/debug/kronyd and target/debug/kronyc; build them first
#  with `cargo build -p kronyd -p kronyc`)
set -eu
KRONYD=${1:-target/debug/kronyd}
KRONYC=${2:-target/debug/kronyc}
DIR=$(mktemp -d)
PORT=11123
trap 'kill $SERVER $CLIENT 2>/dev/null; rm -rf "$DIR"' EXIT INT TERM

"$KRONYD" -x -d -U "local stratum 10" "allow 127.0.0.1" "bindaddress 127.0.0.1" \
    "port $PORT" "cmdport 0" "bindcmdaddress $DIR/server.sock" \
    "pidfile $DIR/server.pid" 2>"$DIR/server.log" &
SERVER=$!
"$KRONYD" -x -d -U "server 127.0.0.1 port $PORT iburst" "port 0" "cmdport 0" \
    "bindcmdaddress $DIR/client.sock" "pidfile $DIR/client.pid" 2>"$DIR/client.log" &
CLIENT=$!

i=0
until grep -q "Selected source" "$DIR/client.log" || [ $i -ge 100 ]; do
    sleep 0.1; i=$((i + 1))
done
cat "$DIR/client.log"
echo
"$KRONYC" -h "$DIR/client.sock" tracking
echo
"$KRONYC" -h "$DIR/client.sock" sources
