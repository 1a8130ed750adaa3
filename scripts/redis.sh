#!/usr/bin/env bash
# Runs a private Redis (Debian's redis-server) for Parley's instance bus: its own folder,
# listening on loopback only, nothing written to disk (the bus keeps no data: it only carries
# messages between instances). For the tests and benchmarks, and for trying
# `parley-server --bus` on one machine; production runs Redis as the distribution does.
#
#   bash scripts/redis.sh start --dir /tmp/redis --port 56379   # prints redis://127.0.0.1:56379
#   bash scripts/redis.sh stop --dir /tmp/redis
#   bash scripts/redis.sh kill --dir /tmp/redis                 # at once (SIGKILL), like a crash
#   bash scripts/redis.sh url --dir /tmp/redis
#
# Commands:
#   start   starts redis-server in the background (daemonized, pid in DIR/redis.pid, log in
#           DIR/redis.log), waits until it answers PING and prints its URL
#   stop    asks it to shut down without saving, and waits until it has gone
#   kill    ends it at once
#   url     prints the URL
#
# Options:
#   --dir DIR    its folder (required)
#   --port N     TCP port on 127.0.0.1 (default 56379; kept in DIR/port after the first start)
#
# Run as root, it runs as the system user redis (made by Debian's package), which then owns DIR.
set -euo pipefail
# shellcheck source=scripts/engine-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/engine-lib.sh"
engine_args redis.sh 2,24 "$@"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "redis.sh: Redis is not installed (apt-get install redis-server, or scripts/deps.sh --test)" >&2
  exit 1
fi

engine_dir
[ -f "$dir/port" ] || echo "${port:-56379}" >"$dir/port"
if [ -n "$port" ] && [ "$port" != "$(cat "$dir/port")" ]; then
  echo "$port" >"$dir/port"
fi
port=$(cat "$dir/port")

as_owner() { engine_run_as redis "$@"; }

pid() { [ -f "$dir/redis.pid" ] && cat "$dir/redis.pid" || true; }
alive() { local p; p=$(pid); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
ping() { redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null | grep -q PONG; }

case "$cmd" in
  url)
    echo "redis://127.0.0.1:$port"
    ;;
  stop|kill)
    if alive; then
      p=$(pid)
      if [ "$cmd" = kill ]; then
        kill -9 "$p" 2>/dev/null || true
      else
        redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$p" 2>/dev/null || true
      fi
      for _ in $(seq 1 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
      done
    fi
    rm -f "$dir/redis.pid"
    ;;
  start)
    if alive && ping; then
      echo "redis://127.0.0.1:$port"
      exit 0
    fi
    chmod 700 "$dir"
    if engine_as_user redis; then
      chown redis: "$dir"
    fi
    rm -f "$dir/redis.pid"
    # No snapshots, no append-only file: nothing of the bus outlives the process.
    as_owner redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' \
      --appendonly no --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
      --protected-mode yes --databases 16
    for _ in $(seq 1 200); do
      ping && break
      sleep 0.05
    done
    if ! ping; then
      tail -n 20 "$dir/redis.log" >&2 || true
      echo "redis.sh: redis-server did not start" >&2
      exit 1
    fi
    echo "redis://127.0.0.1:$port"
    ;;
esac
