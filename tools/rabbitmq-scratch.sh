#!/usr/bin/env bash
# rabbitmq-scratch.sh — start/stop a throwaway RabbitMQ node for wire probes
# and benchmarks.
#
#   tools/rabbitmq-scratch.sh start PORT DIR   # prints the beam.smp pid
#   tools/rabbitmq-scratch.sh stop DIR
#   tools/rabbitmq-scratch.sh status DIR       # prints the pid, exit 1 if down
#   tools/rabbitmq-scratch.sh kill9 DIR        # crash it: SIGKILL beam.smp, keep its state
#   tools/rabbitmq-scratch.sh restart DIR      # start it again on the same ports and state;
#                                              # prints the new beam.smp pid
#
# Everything the node owns lives under DIR: config, enabled_plugins (empty: no
# management plugin), Erlang cookie ($HOME=DIR), mnesia, logs, pid file and a
# private epmd. The node listens for AMQP on 127.0.0.1:PORT only and is called
# warren-scratch-PORT@localhost. Settings are RabbitMQ's defaults (heartbeat 60,
# loopback_users = guest, guest/guest on vhost "/"); they are written to the
# config file explicitly so a later default change cannot surprise us.
#
# Made for a Debian machine where only `apt-get install rabbitmq-server` was run
# (the system service need not and should not be running; no systemd needed).
# Works as root or as any user that can write DIR.
#
# Ports: AMQP = PORT. The private epmd and the Erlang distribution port are
# picked automatically (first free port at/after PORT+10000 and PORT+20000,
# wrapping into 20000..) unless SCRATCH_EPMD_PORT / SCRATCH_DIST_PORT are set.
# SCRATCH_MANAGEMENT_PORT=N also enables the management plugin (HTTP API) on
# 127.0.0.1:N. Other knobs: SCRATCH_START_TIMEOUT (seconds, default 90),
# RABBITMQ_HOME_BIN (default /usr/lib/rabbitmq/bin).
#
# start is idempotent: if a node from DIR is already up it just prints its pid;
# otherwise it starts from empty state (DIR/mnesia is wiped; logs are kept).
# stop is idempotent: no node is not an error. It stops the node gracefully
# (SIGTERM), then SIGKILLs whatever is left of the process group and the
# private epmd.
#
# kill9 and restart are for crash-recovery benchmarks (bench/messaging.ts,
# recovery-1M): kill9 SIGKILLs beam.smp (what a crash of the broker looks
# like: no shutdown, no flush), waits for it to be gone, then SIGKILLs what is
# left of its process group (the wrapper shell, erl_child_setup); the private
# epmd and everything under DIR stay. restart starts the node from DIR again
# on the ports it had (same node name, so the same mnesia dir), WITHOUT wiping
# DIR/mnesia, and prints the new pid once it accepts AMQP (the wait is
# SCRATCH_START_TIMEOUT; recovering many messages can take minutes). A node of
# DIR that is still up is stopped gracefully first. Use stop to clean up after.
set -euo pipefail

RMQ_BIN=${RABBITMQ_HOME_BIN:-/usr/lib/rabbitmq/bin}
START_TIMEOUT=${SCRATCH_START_TIMEOUT:-90}
STOP_TIMEOUT=30

die() { echo "rabbitmq-scratch: $*" >&2; exit 1; }
usage() { die "usage: $0 start PORT DIR | stop DIR | status DIR | kill9 DIR | restart DIR"; }

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# First port >= $1 that nothing listens on and that is not in "$2" (a
# space-separated exclusion list). Wraps from 65000 back to 20000.
free_port_from() {
  local p=$1 exclude=" ${2:-} " tries=0
  while (( tries < 2000 )); do
    (( p > 65000 )) && p=$(( 20000 + p % 1000 ))
    if [[ $exclude != *" $p "* ]] && ! port_in_use "$p"; then
      echo "$p"; return 0
    fi
    p=$(( p + 1 )); tries=$(( tries + 1 ))
  done
  die "no free port found near $1"
}

# True once the broker answers an AMQP 0-9-1 protocol header with a
# connection.start method frame (type 1, channel 0, class 10 method 10).
amqp_ready() {
  local port=$1 reply
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "AMQP\x00\x00\x09\x01" >&3
    head -c 11 <&3 | od -An -tx1 | tr -d " \n"
  ' "$port" 2>/dev/null) || return 1
  # 01 0000 <size:4> 000a 000a
  [[ $reply =~ ^010000[0-9a-f]{8}000a000a$ ]]
}

read_file() { [[ -f $1 ]] && cat "$1" || true; }

node_pid() { read_file "$1/rabbitmq.pid" | tr -d ' \n'; }

# Print the pid of the node in DIR if it is up, else fail.
cmd_status() {
  local dir=$1 pid
  pid=$(node_pid "$dir")
  alive "$pid" || return 1
  echo "$pid"
}

cmd_stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  local pid wrapper epmd_port i
  pid=$(node_pid "$dir")
  wrapper=$(read_file "$dir/wrapper.pid" | tr -d ' \n')
  epmd_port=$(read_file "$dir/epmd.port" | tr -d ' \n')

  # Graceful stop: the RabbitMQ signal handler turns SIGTERM into a clean
  # shutdown (the wrapper shell forwards it as well).
  if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  if alive "$wrapper"; then kill -TERM "$wrapper" 2>/dev/null || true; fi
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    alive "$pid" || alive "$wrapper" || break
    sleep 0.1
  done

  # Whatever is left of the session we started (beam, erl_child_setup,
  # inet_gethost, the wrapper shell): the wrapper is a session/group leader.
  if [[ -n $wrapper ]]; then kill -KILL -- "-$wrapper" 2>/dev/null || true; fi
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi

  # Our private epmd daemonises into its own session; ask it to exit.
  if [[ -n $epmd_port ]] && port_in_use "$epmd_port"; then
    ERL_EPMD_PORT=$epmd_port epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true
    for (( i = 0; i < 20; i++ )); do port_in_use "$epmd_port" || break; sleep 0.1; done
    if port_in_use "$epmd_port"; then
      # Last resort: find the epmd bound to exactly this port by its argv/env.
      local p
      for p in $(pgrep -x epmd 2>/dev/null || true); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "ERL_EPMD_PORT=$epmd_port"; then
          kill -KILL "$p" 2>/dev/null || true
        fi
      done
    fi
  fi
  rm -f "$dir/rabbitmq.pid" "$dir/wrapper.pid"
}

cmd_start() {
  local port=$1 dir=$2
  [[ $port =~ ^[0-9]+$ ]] && (( port > 0 && port < 65536 )) || die "bad port: $port"
  [[ -x $RMQ_BIN/rabbitmq-server ]] || die "$RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)"
  command -v epmd >/dev/null || die "epmd not found on PATH"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  # Idempotence: a node from this DIR that is up and serving this port.
  local pid
  pid=$(node_pid "$dir")
  if alive "$pid" && [[ $(read_file "$dir/amqp.port") == "$port" ]] && amqp_ready "$port"; then
    echo "$pid"; return 0
  fi
  cmd_stop "$dir"   # leftovers from an earlier, crashed or different run

  port_in_use "$port" && die "port $port is already in use"

  local epmd_port dist_port
  epmd_port=${SCRATCH_EPMD_PORT:-$(free_port_from $(( port + 10000 )) "$port")}
  dist_port=${SCRATCH_DIST_PORT:-$(free_port_from $(( port + 20000 )) "$port $epmd_port")}

  # Throwaway: every (re)start begins with empty broker state.
  rm -rf "$dir/mnesia"
  mkdir -p "$dir/mnesia" "$dir/log"
  echo "$port" >"$dir/amqp.port"
  echo "$epmd_port" >"$dir/epmd.port"
  echo "$dist_port" >"$dir/dist.port"
  launch_node "$port" "$dir" "$epmd_port" "$dist_port"
}

# Start the node of DIR on the given ports with whatever state DIR holds, and
# wait until it accepts AMQP; prints its pid (exit 1 and stop on failure).
launch_node() {
  local port=$1 dir=$2 epmd_port=$3 dist_port=$4 node pid
  node="warren-scratch-$port@localhost"
  mkdir -p "$dir/mnesia" "$dir/log"
  : >"$dir/rabbitmq-env.conf"          # keep /etc/rabbitmq/rabbitmq-env.conf out
  echo '[].' >"$dir/enabled_plugins"   # no management (or any other) plugin
  cat >"$dir/rabbitmq.conf" <<EOF
# Generated by tools/rabbitmq-scratch.sh — RabbitMQ defaults, pinned.
listeners.tcp.1 = 127.0.0.1:$port
heartbeat = 60
loopback_users.guest = true
default_user = guest
default_pass = guest
default_vhost = /
log.console = false
log.file.level = info
EOF
  # SCRATCH_MANAGEMENT_PORT: also run the management plugin (HTTP API) on 127.0.0.1:that port
  if [[ -n ${SCRATCH_MANAGEMENT_PORT:-} ]]; then
    echo '[rabbitmq_management].' >"$dir/enabled_plugins"
    printf 'management.tcp.port = %s\nmanagement.tcp.ip = 127.0.0.1\n' "$SCRATCH_MANAGEMENT_PORT" >>"$dir/rabbitmq.conf"
  fi

  # Clean environment so nothing from the caller (RABBITMQ_*, ERL_*) leaks in.
  env -i \
    PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    LANG=C.UTF-8 LC_ALL=C.UTF-8 \
    HOME="$dir" \
    ERL_EPMD_PORT="$epmd_port" \
    RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
    RABBITMQ_NODENAME="$node" \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$port" \
    RABBITMQ_DIST_PORT="$dist_port" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
    RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" \
    RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
    RABBITMQ_MOTD_FILE="$dir/motd" \
    setsid "$RMQ_BIN/rabbitmq-server" </dev/null >>"$dir/log/startup.log" 2>&1 &
  local wrapper=$!
  echo "$wrapper" >"$dir/wrapper.pid"

  local deadline=$(( SECONDS + START_TIMEOUT ))
  while (( SECONDS < deadline )); do
    if ! alive "$wrapper"; then
      echo "rabbitmq-scratch: node exited during startup; last log lines:" >&2
      tail -n 30 "$dir/log/startup.log" "$dir/log/$node.log" 2>/dev/null >&2 || true
      cmd_stop "$dir"
      exit 1
    fi
    pid=$(node_pid "$dir")
    if [[ -n $pid ]] && amqp_ready "$port"; then
      echo "$pid"; return 0
    fi
    sleep 0.5
  done
  echo "rabbitmq-scratch: node did not accept AMQP on port $port within ${START_TIMEOUT}s; last log lines:" >&2
  tail -n 30 "$dir/log/startup.log" "$dir/log/$node.log" 2>/dev/null >&2 || true
  cmd_stop "$dir"
  exit 1
}

# Crash the node of DIR: SIGKILL beam.smp, then what is left of its process
# group; its state and the private epmd stay. No node is not an error.
cmd_kill9() {
  local dir=$1 pid wrapper i
  [[ -d $dir ]] || die "no such dir: $dir"
  pid=$(node_pid "$dir")
  wrapper=$(read_file "$dir/wrapper.pid" | tr -d ' \n')
  if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  for (( i = 0; i < 100; i++ )); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && die "beam.smp $pid survived SIGKILL"
  if [[ -n $wrapper ]]; then kill -KILL -- "-$wrapper" 2>/dev/null || true; fi
  rm -f "$dir/rabbitmq.pid" "$dir/wrapper.pid"
}

# Start the node of DIR again with its state, on the ports it had.
cmd_restart() {
  local dir=$1 port epmd_port dist_port wrapper
  [[ -d $dir ]] || die "no such dir: $dir"
  dir=$(cd "$dir" && pwd)
  port=$(read_file "$dir/amqp.port" | tr -d ' \n')
  epmd_port=$(read_file "$dir/epmd.port" | tr -d ' \n')
  dist_port=$(read_file "$dir/dist.port" | tr -d ' \n')
  [[ -n $port && -n $epmd_port && -n $dist_port && -d $dir/mnesia ]] || die "$dir holds no node started by $0 start"
  [[ -x $RMQ_BIN/rabbitmq-server ]] || die "$RMQ_BIN/rabbitmq-server not found (apt-get install rabbitmq-server)"
  if alive "$(node_pid "$dir")"; then
    cmd_stop "$dir"   # a clean stop (the private epmd goes too; the node starts a new one)
  else
    wrapper=$(read_file "$dir/wrapper.pid" | tr -d ' \n')
    if [[ -n $wrapper ]]; then kill -KILL -- "-$wrapper" 2>/dev/null || true; fi
  fi
  port_in_use "$port" && die "port $port is already in use"
  launch_node "$port" "$dir" "$epmd_port" "$dist_port"
}

case ${1:-} in
  start)  [[ $# -eq 3 ]] || usage; cmd_start "$2" "$3" ;;
  stop)   [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
  status) [[ $# -eq 2 ]] || usage; cmd_status "$2" ;;
  kill9)  [[ $# -eq 2 ]] || usage; cmd_kill9 "$2" ;;
  restart) [[ $# -eq 2 ]] || usage; cmd_restart "$2" ;;
  *) usage ;;
esac
