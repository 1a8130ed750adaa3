#!/usr/bin/env bash
# Runs a TURN relay (Debian's coturn) for Parley, configured safely by default, in the foreground
# (Ctrl-C stops it), and prints the parley-server flags that go with it.
#
#   bash scripts/coturn.sh --listen-ip 203.0.113.7
#   bash scripts/coturn.sh --listen-ip 10.0.0.5 --external-ip 203.0.113.7 \
#        --tls-cert /etc/ssl/turn.pem --tls-key /etc/ssl/turn.key
#
# Options (all optional but --listen-ip):
#   --listen-ip IP        address coturn listens and relays on (repeatable for listening)
#   --relay-ip IP         address relayed traffic leaves from (default: the first --listen-ip)
#   --external-ip IP      the public address, when the host is behind a 1:1 NAT (cloud hosts)
#   --port N              TURN port, UDP and TCP (default 3478)
#   --tls-port N          TURN over TLS (turns:), with --tls-cert and --tls-key (default 5349)
#   --tls-cert FILE, --tls-key FILE   PEM certificate chain and key for turns:
#   --min-port N, --max-port N        relay port range (default 49152..65535)
#   --realm NAME          the realm (default: parley)
#   --user-quota N        allocations one account may hold at once (default 100; see below)
#   --dir DIR             where the secret and the configuration are kept (default ./turn-data)
#   --allow-private-peers let the relay reach private and loopback addresses (tests, or a relay
#                         inside one private network); by default they are refused, so that the
#                         relay cannot be used to reach the machines around it
#
# The secret shared with parley-server is made once (32 random bytes, base64url) in
# DIR/turn-secret, mode 0600; pass that file to parley-server with --turn-secret-file.
set -euo pipefail

listen=()
relay_ip=''
external_ip=''
port=3478
tls_port=5349
tls_cert=''
tls_key=''
min_port=49152
max_port=65535
realm=parley
# Allocations one account may hold at once. A page takes about two per link (UDP and TCP) and per
# spare connection, one link per contact online; and Chromium (156 here) takes a refusal for the quota
# (486) badly: the whole browser goes down. So the quota stays far above what a page uses, and
# the total quota (10000) is what bounds the relay.
user_quota=100
dir=./turn-data
private_peers=0

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
need() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "coturn.sh: $1 needs a value" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    --listen-ip) need "$@"; listen+=("$2"); shift 2 ;;
    --relay-ip) need "$@"; relay_ip=$2; shift 2 ;;
    --external-ip) need "$@"; external_ip=$2; shift 2 ;;
    --port) need "$@"; port=$2; shift 2 ;;
    --tls-port) need "$@"; tls_port=$2; shift 2 ;;
    --tls-cert) need "$@"; tls_cert=$2; shift 2 ;;
    --tls-key) need "$@"; tls_key=$2; shift 2 ;;
    --min-port) need "$@"; min_port=$2; shift 2 ;;
    --max-port) need "$@"; max_port=$2; shift 2 ;;
    --realm) need "$@"; realm=$2; shift 2 ;;
    --user-quota) need "$@"; user_quota=$2; shift 2 ;;
    --dir) need "$@"; dir=$2; shift 2 ;;
    --allow-private-peers) private_peers=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "coturn.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

[ ${#listen[@]} -gt 0 ] || { echo "coturn.sh: --listen-ip is required (see --help)" >&2; exit 2; }
[[ "$user_quota" =~ ^[1-9][0-9]{0,4}$ ]] || { echo "coturn.sh: bad --user-quota $user_quota" >&2; exit 2; }
for n in "$port" "$tls_port" "$min_port" "$max_port"; do
  [[ "$n" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$n" -le 65535 ] || { echo "coturn.sh: bad port $n" >&2; exit 2; }
done
[ "$min_port" -le "$max_port" ] || { echo "coturn.sh: --min-port above --max-port" >&2; exit 2; }
if [ -n "$tls_cert$tls_key" ] && { [ -z "$tls_cert" ] || [ -z "$tls_key" ]; }; then
  echo "coturn.sh: --tls-cert and --tls-key go together" >&2
  exit 2
fi
[ -n "$relay_ip" ] || relay_ip=${listen[0]}

if ! command -v turnserver >/dev/null 2>&1; then
  echo "coturn.sh: installing Debian's coturn" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends coturn >&2
fi

mkdir -p "$dir"
chmod 700 "$dir"
secret_file=$dir/turn-secret
if [ ! -s "$secret_file" ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$secret_file" && echo >>"$secret_file")
fi
secret=$(head -n 1 "$secret_file")

conf=$dir/turnserver.conf
(
  umask 077
  {
    echo "# Written by scripts/coturn.sh: a TURN relay for Parley, safe by default."
    echo "# Credentials are short-lived and issued by parley-server (use-auth-secret)."
    for ip in "${listen[@]}"; do echo "listening-ip=$ip"; done
    echo "relay-ip=$relay_ip"
    [ -z "$external_ip" ] || echo "external-ip=$external_ip/$relay_ip"
    echo "listening-port=$port"
    echo "min-port=$min_port"
    echo "max-port=$max_port"
    echo "realm=$realm"
    echo "use-auth-secret"
    echo "static-auth-secret=$secret"
    echo "fingerprint"
    echo "stale-nonce=600"
    echo "no-cli"
    echo "no-multicast-peers"
    echo "no-software-attribute"
    echo "no-rfc5780"
    echo "no-stun-backward-compatibility"
    echo "response-origin-only-with-rfc5780"
    # Quotas: one account's allocations (see --user-quota), and all of them together.
    echo "user-quota=$user_quota"
    echo "total-quota=10000"
    echo "max-bps=0"
    if [ -n "$tls_cert" ]; then
      echo "tls-listening-port=$tls_port"
      echo "cert=$tls_cert"
      echo "pkey=$tls_key"
      echo "no-tlsv1"
      echo "no-tlsv1_1"
      echo "no-dtls"
    else
      echo "no-tls"
      echo "no-dtls"
    fi
    if [ "$private_peers" -eq 0 ]; then
      # The relay must not reach the machines around it: private, loopback, link-local,
      # shared (CGNAT), benchmarking, multicast and reserved ranges are refused as peers.
      for r in 0.0.0.0-0.255.255.255 10.0.0.0-10.255.255.255 100.64.0.0-100.127.255.255 \
               127.0.0.0-127.255.255.255 169.254.0.0-169.254.255.255 172.16.0.0-172.31.255.255 \
               192.0.0.0-192.0.0.255 192.0.2.0-192.0.2.255 192.88.99.0-192.88.99.255 \
               192.168.0.0-192.168.255.255 198.18.0.0-198.19.255.255 198.51.100.0-198.51.100.255 \
               203.0.113.0-203.0.113.255 224.0.0.0-255.255.255.255 \
               ::1 ::ffff:0.0.0.0-::ffff:255.255.255.255 64:ff9b::-64:ff9b::ffff:ffff \
               fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff; do
        echo "denied-peer-ip=$r"
      done
    else
      echo "allow-loopback-peers"
    fi
    echo "pidfile=$dir/turnserver.pid"
    echo "log-file=stdout"
    echo "simple-log"
  } >"$conf"
)

host=${external_ip:-${listen[0]}}
flags="--turn turn:$host:$port?transport=udp --turn turn:$host:$port?transport=tcp"
[ -z "$tls_cert" ] || flags="$flags --turn turns:$host:$tls_port?transport=tcp"
echo "coturn.sh: relay on $host:$port; start parley-server with:" >&2
echo "  $flags --turn-secret-file $(cd "$dir" && pwd)/turn-secret" >&2
exec turnserver -c "$conf"
