#!/usr/bin/env bash
# krony demo: the classic two-host deployment.
#
#   host A 192.168.37.7  kronyd serving its own clock at stratum 10 to 192.168.37.0/24
#   host B 192.168.37.8  kronyd synchronising to A ("server 192.168.37.7 iburst")
#
# A and B are network namespaces joined by a veth pair, created here and removed at the
# end. Both daemons run with -x: the system clock is never touched. Without root (or
# without `ip netns`) the demo runs the same pair on loopback ports instead.
#
# Usage: sudo demo/two-hosts.sh [--loopback] [--debug]
#   --loopback  skip the namespaces even as root
#   --debug     build and use the debug profile (faster to build) instead of release
# KRONYD=path KRONYC=path use those binaries instead of building them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=netns
PROFILE=release
for arg in "$@"; do
    case $arg in
        --loopback) MODE=loopback ;;
        --debug) PROFILE=debug ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ -t 1 ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    say() { printf '\n== %s\n' "$*"; }
fi

# --- 1. The binaries: built with cargo unless given --------------------------------------

# Runs cargo as the user who called sudo (if any), so that target/ stays theirs and their
# rustup toolchain is found (sudo's PATH usually lacks ~/.cargo/bin).
as_user_cargo() {
    if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        local home
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        sudo -u "$SUDO_USER" env HOME="$home" PATH="$home/.cargo/bin:$PATH" \
            ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} cargo "$@"
    else
        cargo "$@"
    fi
}

have_cargo() {
    if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        local home
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        [ -x "$home/.cargo/bin/cargo" ] || command -v cargo >/dev/null
    else
        command -v cargo >/dev/null
    fi
}

if [ -z "${KRONYD:-}" ] || [ -z "${KRONYC:-}" ]; then
    cd "$ROOT"
    flag=--release
    [ "$PROFILE" = debug ] && flag=
    if have_cargo; then
        say "building kronyd and kronyc (cargo build $flag -p kronyd -p kronyc)"
        as_user_cargo build $flag -p kronyd -p kronyc
        target=$(as_user_cargo metadata --format-version 1 --no-deps |
            grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
    else
        target=${CARGO_TARGET_DIR:-$ROOT/target}
        echo "cargo not found: using the binaries in $target/$PROFILE"
    fi
    KRONYD=${KRONYD:-$target/$PROFILE/kronyd}
    KRONYC=${KRONYC:-$target/$PROFILE/kronyc}
fi
for bin in "$KRONYD" "$KRONYC"; do
    if [ ! -x "$bin" ]; then
        echo "$bin does not exist: install a Rust toolchain (https://rustup.rs) and run" \
            "'cargo build --release' in $ROOT first" >&2
        exit 1
    fi
done

# --- 2. The hosts ------------------------------------------------------------------------

DIR=$(mktemp -d /tmp/krony-demo.XXXXXX)
chmod 755 "$DIR"
NS_A=krony-demo-$$-a
NS_B=krony-demo-$$-b
PIDS=()
NAMESPACES=()

cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns"; done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Creates A and B and their link; false (leaving nothing behind) if that is impossible.
make_namespaces() {
    [ "$(id -u)" = 0 ] || { echo "not root: no network namespaces (run with sudo to see two hosts)"; return 1; }
    command -v ip >/dev/null || { echo "no 'ip' command (iproute2)"; return 1; }
    ip netns add "$NS_A" 2>"$DIR/ip.err" || { cat "$DIR/ip.err"; return 1; }
    NAMESPACES+=("$NS_A")
    ip netns add "$NS_B" && NAMESPACES+=("$NS_B") &&
        ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up &&
        ip -n "$NS_A" link add eth0 type veth peer name eth0 netns "$NS_B" &&
        ip -n "$NS_A" addr add 192.168.37.7/24 dev eth0 &&
        ip -n "$NS_B" addr add 192.168.37.8/24 dev eth0 &&
        ip -n "$NS_A" link set eth0 up && ip -n "$NS_B" link set eth0 up
}

if [ "$MODE" = netns ] && ! make_namespaces; then
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns"; done
    NAMESPACES=()
    MODE=loopback
fi

mkdir -p "$DIR/a/log" "$DIR/b"
if [ "$MODE" = netns ]; then
    A_ADDR=192.168.37.7
    SERVE="allow 192.168.37.0/24
cmdallow 192.168.37.0/24
bindcmdaddress 0.0.0.0"
    A_CMDPORT=
    B_SERVER="server 192.168.37.7 iburst"
    B_PORTS=
    IN_A=(ip netns exec "$NS_A")
    IN_B=(ip netns exec "$NS_B")
else
    # Loopback: A on a high port (no root needed), B polling it there.
    A_ADDR=127.0.0.1
    PORT=$((20000 + $$ % 20000))
    SERVE="allow 127.0.0.1
bindaddress 127.0.0.1
port $PORT"
    A_CMDPORT="cmdport 0"
    B_SERVER="server 127.0.0.1 port $PORT iburst"
    B_PORTS="port 0"
    IN_A=()
    IN_B=()
fi
cat >"$DIR/a/krony.conf" <<EOF
local stratum 10
$SERVE
driftfile $DIR/a/drift
logdir $DIR/a/log
log measurements statistics tracking
bindcmdaddress $DIR/a/kronyd.sock
$A_CMDPORT
pidfile $DIR/a/kronyd.pid
EOF
cat >"$DIR/b/krony.conf" <<EOF
$B_SERVER
driftfile $DIR/b/drift
makestep 1.0 3
rtcsync
$B_PORTS
bindcmdaddress $DIR/b/kronyd.sock
cmdport 0
pidfile $DIR/b/kronyd.pid
EOF

# -U: a non-root user may run kronyd in loopback mode (it never needs root with -x there).
OPTS=(-x -d)
[ "$(id -u)" = 0 ] || OPTS+=(-U)

if [ "$MODE" = netns ]; then
    say "network namespaces $NS_A (host A, 192.168.37.7) and $NS_B (host B, 192.168.37.8)"
else
    say "loopback fallback: host A = 127.0.0.1 port $PORT, host B = its client"
fi
for h in a b; do
    echo "--- host ${h^^}: kronyd ${OPTS[*]} -f krony.conf, with krony.conf:"
    grep -v '^$' "$DIR/$h/krony.conf" | sed 's/^/    /'
done

"${IN_A[@]}" "$KRONYD" "${OPTS[@]}" -f "$DIR/a/krony.conf" 2>"$DIR/a/kronyd.log" &
PIDS+=($!)
"${IN_B[@]}" "$KRONYD" "${OPTS[@]}" -f "$DIR/b/krony.conf" 2>"$DIR/b/kronyd.log" &
PIDS+=($!)

# --- 3. Synchronisation and the reports --------------------------------------------------

say "waiting for B to synchronise to A"
start=$(date +%s%N)
synced=
for _ in $(seq 1 300); do
    if "$KRONYC" -n -h "$DIR/b/kronyd.sock" tracking 2>/dev/null |
        grep -q "^Reference ID .*($A_ADDR)"; then
        synced=yes
        break
    fi
    for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || break 2
    done
    sleep 0.1
done
if [ -z "$synced" ]; then
    echo "B did not synchronise within 30 s. A's log:"
    cat "$DIR/a/kronyd.log"
    echo "B's log:"
    cat "$DIR/b/kronyd.log"
    exit 1
fi
ms=$((($(date +%s%N) - start) / 1000000))
printf "synchronised after %d.%d s. B's log:\n" $((ms / 1000)) $((ms % 1000 / 100))
sed 's/^/    /' "$DIR/b/kronyd.log"

say "B\$ kronyc tracking"
"${IN_B[@]}" "$KRONYC" -h "$DIR/b/kronyd.sock" tracking
say "B\$ kronyc sources"
"${IN_B[@]}" "$KRONYC" -h "$DIR/b/kronyd.sock" sources
if [ "$MODE" = netns ]; then
    say "B\$ kronyc -h 192.168.37.7 tracking     (A's command port, open to B by cmdallow)"
    "${IN_B[@]}" "$KRONYC" -n -h 192.168.37.7 tracking
fi
say "A\$ kronyc clients"
"${IN_A[@]}" "$KRONYC" -h "$DIR/a/kronyd.sock" clients

say "stopping the daemons and removing the hosts"
