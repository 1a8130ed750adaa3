#!/usr/bin/env bash
# Runs a private PostgreSQL (Debian's postgresql) for Parley: its own data folder, listening on
# loopback only, one role with a generated password. For the tests, and for trying
# `parley-server --database` on one machine; production runs PostgreSQL as the distribution does.
#
#   bash scripts/pg.sh start --dir /tmp/pg --port 55432   # creates the cluster on first use
#   bash scripts/pg.sh stop --dir /tmp/pg
#   bash scripts/pg.sh url --dir /tmp/pg                  # prints the URL again
#
# Commands:
#   start   creates the cluster in DIR when it has none (initdb, role parley with a random
#           password kept in DIR/password, mode 0600), starts it in the background and waits
#           until it takes connections; prints the URL of its database parley:
#           postgres://parley:PASSWORD@127.0.0.1:PORT/parley
#   stop    stops it (fast shutdown: open sessions are ended, committed work kept)
#   kill    stops it at once (immediate shutdown: like a crash; committed work is kept)
#   url     prints the URL
#
# Options:
#   --dir DIR    the cluster's folder (required)
#   --port N     TCP port on 127.0.0.1 (default 55432; kept in DIR/port after the first start)
#
# PostgreSQL refuses to run as root: run as root, this script runs it as the system user
# postgres (made by Debian's package), which then owns DIR/data.
set -euo pipefail
# shellcheck source=scripts/engine-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/engine-lib.sh"
engine_args pg.sh 2,25 "$@"

bin=''
for v in /usr/lib/postgresql/*/bin; do
  [ -x "$v/pg_ctl" ] && bin=$v
done
if [ -z "$bin" ]; then
  echo "pg.sh: PostgreSQL is not installed (apt-get install postgresql, or scripts/deps.sh --test)" >&2
  exit 1
fi

# Runs a command as the cluster's owner: the caller, or postgres when the caller is root.
as_owner() { engine_run_as postgres "$@"; }

engine_dir
data=$dir/data

url() {
  printf 'postgres://parley:%s@127.0.0.1:%s/parley\n' "$(cat "$dir/password")" "$(cat "$dir/port")"
}

case "$cmd" in
  url)
    url
    ;;
  stop|kill)
    if [ -f "$data/postmaster.pid" ]; then
      mode=fast
      [ "$cmd" = kill ] && mode=immediate
      as_owner "$bin/pg_ctl" -D "$data" -m "$mode" -w -t 30 stop >/dev/null
    fi
    ;;
  start)
    if [ ! -f "$data/PG_VERSION" ]; then
      [ -n "$port" ] || port=55432
      (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$dir/password")
      echo "$port" >"$dir/port"
      mkdir -p "$data"
      chmod 700 "$dir" "$data"
      if engine_as_user postgres; then
        chown -R postgres: "$dir"
      fi
      as_owner "$bin/initdb" -D "$data" -U parley --pwfile="$dir/password" --auth-local=scram-sha-256 \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if [ -n "$port" ] && [ "$port" != "$(cat "$dir/port")" ]; then
      echo "$port" >"$dir/port"
    fi
    port=$(cat "$dir/port")
    if ! as_owner "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on -c synchronous_commit=on" \
        start >/dev/null; then
      tail -n 20 "$dir/postgres.log" >&2
      exit 1
    fi
    # The database the server uses (the first start makes it).
    export PGPASSWORD
    PGPASSWORD=$(cat "$dir/password")
    if ! psql -h 127.0.0.1 -p "$port" -U parley -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'parley'" | grep -q 1; then
      psql -h 127.0.0.1 -p "$port" -U parley -d postgres -q -c "CREATE DATABASE parley" >/dev/null
    fi
    url
    ;;
esac
