#!/usr/bin/env bash
# Starts a local chat: the server on 127.0.0.1:8001 in the background and a
# client to type into (the terminal client, or the desktop one with --gui).
# Other people join with: chat-repl --server HOST:8001, chat-gui, or nc HOST 8001.
#
# The server keeps running when your client quits, so nobody who joined is
# cut off; run the script again to get back in, and stop the server with
# `scripts/chat.sh --stop` when everyone is done.
#
#   scripts/chat.sh [--gui]   start the server (or use the one running), then a client
#   scripts/chat.sh --stop    stop the server the script started
#
# CHAT_ADDR (default 127.0.0.1:8001) and CHAT_NAME (default $USER) change the
# address and your name; CHAT_BIN, a directory holding chat-server and the
# client already built, skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
addr="${CHAT_ADDR:-127.0.0.1:8001}"
name="${CHAT_NAME:-${USER:-}}"
state="${CARGO_TARGET_DIR:-target}"
bin="${CHAT_BIN:-$state/release}"
# One server per address, so two chats on two ports do not mix up.
pidfile="$state/chat-server-${addr//[^A-Za-z0-9.]/_}.pid"
log="$state/chat-server-${addr//[^A-Za-z0-9.]/_}.log"

# The pid of the server the script started, if it still runs (a pid written
# long ago may have been reused by another program: its command line says).
server_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q chat-server || return 1
  echo "$pid"
}

client=repl
case "${1:-}" in
  "") ;;
  --gui) client=gui ;;
  --stop)
    if pid=$(server_pid); then
      kill "$pid"
      # The server says goodbye to everyone before it exits.
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$pidfile"
      echo "chat-server on $addr stopped" >&2
    else
      rm -f "$pidfile"
      echo "no chat-server started by scripts/chat.sh is running on $addr" >&2
    fi
    exit 0
    ;;
  *) echo "usage: scripts/chat.sh [--gui | --stop]" >&2; exit 2 ;;
esac

if [ -z "${CHAT_BIN:-}" ]; then
  if [ "$client" = gui ]; then
    scripts/deps.sh gui
    cargo build --release -p chat-server -p chat-gui
  else
    scripts/deps.sh chat
    cargo build --release -p chat-server -p chat-repl
  fi
fi

mkdir -p "$state"
if pid=$(server_pid); then
  echo "chat-server is already running on $addr (pid $pid, log: $log)" >&2
else
  # Its own session: closing this terminal or pressing Ctrl-C in the client
  # does not reach it.
  setsid "$bin/chat-server" --listen "$addr" >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  sleep 0.3
  if ! pid=$(server_pid); then
    cat "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  echo "chat-server is listening on $addr (pid $pid, log: $log); others can join with: nc ${addr%:*} ${addr##*:}" >&2
fi

status=0
if [ "$client" = gui ]; then
  args=(--server "$addr" --connect)
  [ -n "$name" ] && args+=(--name "$name")
  "$bin/chat-gui" "${args[@]}" || status=$?
else
  args=(--server "$addr")
  [ -n "$name" ] && args+=(--name "$name")
  "$bin/chat-repl" "${args[@]}" || status=$?
fi
stop="scripts/chat.sh --stop"
[ "$addr" = 127.0.0.1:8001 ] || stop="CHAT_ADDR=$addr $stop"
echo "chat-server is still running on $addr for everyone who joined; stop it with: $stop" >&2
exit "$status"
