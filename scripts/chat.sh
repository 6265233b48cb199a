#!/usr/bin/env bash
# Starts a local chat: the server on 127.0.0.1:8001 in the background and a
# client to type into (the terminal client, or the desktop one with --gui).
# Other people join with: chat-repl --server HOST:8001, chat-gui, or nc HOST 8001.
set -euo pipefail
cd "$(dirname "$0")/.."
addr="${CHAT_ADDR:-127.0.0.1:8001}"
name="${CHAT_NAME:-${USER:-me}}"
client=repl
[ "${1:-}" = "--gui" ] && client=gui

if [ "$client" = gui ]; then
  scripts/deps.sh gui
  cargo build --release -p chat-server -p chat-gui
else
  scripts/deps.sh chat
  cargo build --release -p chat-server -p chat-repl
fi

log=target/chat-server.log
target/release/chat-server --listen "$addr" 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
sleep 0.3
if ! kill -0 "$server" 2>/dev/null; then
  cat "$log" >&2
  exit 1
fi
echo "chat-server is listening on $addr (log: $log); others can join with: nc ${addr%:*} ${addr##*:}" >&2

if [ "$client" = gui ]; then
  target/release/chat-gui --server "$addr" --name "$name" --connect
else
  target/release/chat-repl --server "$addr" --name "$name"
fi
