# shellcheck shell=bash
# Sourced by scripts/pg.sh and scripts/redis.sh, which each run a private engine (PostgreSQL,
# Redis) in a folder of its own on a loopback port: their common command line, and running the
# engine as its system user.

engine_usage() { sed -n "${help_lines}p" "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

engine_fail() { echo "$engine: $*" >&2; exit 2; }

# engine_args NAME LINES ARGS...: parses ARGS, `COMMAND [--dir DIR] [--port N]` (commands
# start, stop, kill and url), into cmd, dir and port (empty when not given). NAME is the script's
# name in messages; -h or --help prints lines LINES (a sed range) of the script, its help
# comment. A mistake exits 2.
engine_args() {
  engine=$1
  help_lines=$2
  shift 2
  cmd=${1:-}
  dir=''
  port=''
  if [ $# -gt 0 ]; then shift; fi
  while [ $# -gt 0 ]; do
    case "$1" in
      --dir|--port)
        if [ $# -lt 2 ] || [ -z "$2" ]; then engine_fail "$1 needs a value"; fi
        if [ "$1" = --dir ]; then dir=$2; else port=$2; fi
        shift 2 ;;
      -h|--help) engine_usage 0 ;;
      *) engine_fail "unknown option $1 (see --help)" ;;
    esac
  done
  case "$cmd" in
    start|stop|kill|url) ;;
    -h|--help|'') engine_usage 0 ;;
    *) engine_fail "unknown command $cmd (see --help)" ;;
  esac
  [ -n "$dir" ] || engine_fail "--dir is required (see --help)"
  if [ -n "$port" ]; then
    if ! [[ "$port" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$port" -gt 65535 ]; then
      engine_fail "bad port $port"
    fi
  fi
}

# Creates DIR when missing and makes dir its absolute path.
engine_dir() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
}

# Succeeds when run as root and the system user $1 exists: the engine then runs as that user.
engine_as_user() { [ "$(id -u)" -eq 0 ] && id "$1" >/dev/null 2>&1; }

# Runs a command as the engine's owner: the system user $1 when engine_as_user says so, else the
# caller.
engine_run_as() {
  local user=$1
  shift
  if engine_as_user "$user"; then
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}
