#!/bin/bash
# Retakes docs/img/gui.png from a real session: Xvfb on :58, a TLS server
# with a room password, four chat-repl bots fed through pipes, and chat-gui
# as alice in #lobby, #rust and #ops, showing #rust with news elsewhere
# (emoji and CJK among them). Then docs/img/gui-narrow.png: a second
# chat-gui at the smallest size, over TLS without the CA file, refused.
#
# Run from the repository root:
#   frontends/gui/screenshot.sh [OUT.png [NARROW.png]]
# Needs Xvfb, xdotool and ImageMagick's `import`.
set -eu
OUT=${1:-docs/img/gui.png}
NARROW=${2:-docs/img/gui-narrow.png}
cargo build -q -p chat-server -p chat-repl -p chat-gui
B=${CARGO_TARGET_DIR:-target}/debug
D=$(mktemp -d)
PORT=18401
export DISPLAY=:58
# The GUIs remember their fields here, not in your own config.
export XDG_CONFIG_HOME="$D/config"
PIDS=""
Xvfb :58 -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
XVFB=$!
cleanup() {
    kill $PIDS 2>/dev/null || true
    sleep 0.5
    kill $XVFB 2>/dev/null || true
    rm -rf "$D"
}
trap cleanup EXIT
sleep 1
"$B/chat-server" gen-cert --cert "$D/cert.pem" --key "$D/key.pem" >/dev/null 2>&1
printf 'open sesame\n' > "$D/pw"
"$B/chat-server" --listen 127.0.0.1:$PORT --tls-cert "$D/cert.pem" --tls-key "$D/key.pem" \
    --password-file "$D/pw" --no-history --replay 20 --rate-limit off --status-interval 0 \
    > "$D/server.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1
# Each bot reads a pipe this script holds open, so each `say` is one line.
declare -A FD
for b in carol dave bob erin; do
    mkfifo "$D/$b.in"
    "$B/chat-repl" --server 127.0.0.1:$PORT --ca "$D/cert.pem" --password-file "$D/pw" \
        --name $b < "$D/$b.in" > "$D/$b.out" 2>&1 &
    PIDS="$PIDS $!"
    exec {fd}>"$D/$b.in"
    FD[$b]=$fd
    sleep 0.3
done
say() { echo "$2" >&"${FD[$1]}"; sleep 0.4; }
sleep 1
# Before alice comes: the lobby's and #rust's replays.
say carol "morning all — coffee machine on 3 is fixed"
say dave "finally. did anyone run the migration last night?"
say bob "yes, took 14 minutes, no errors"
say bob "/join rust"
say carol "/join rust"
say dave "/join rust"
say bob "/topic Rust questions, crates and borrowck therapy"
say carol "anyone tried let-chains on stable yet?"
say dave "yes — they read much better than nested if-lets"
say bob "/me pastes a 40-line match that is now 12"
sleep 0.5
CHAT_PASSWORD='open sesame' "$B/chat-gui" --server 127.0.0.1:$PORT --name alice --tls \
    --ca "$D/cert.pem" --connect > "$D/gui.log" 2>&1 &
PIDS="$PIDS $!"
sleep 3
W=$(xdotool search --name 'chat-gui —' | head -1)
type_line() {
    xdotool windowfocus --sync "$W"
    xdotool key shift
    xdotool type --delay 15 "$1"
    xdotool key Return
    sleep 0.7
}
type_line "/join rust"
say erin "/join rust"
say carol "alice: the rustfmt config is in the repo root now"
type_line "thanks carol, reading it now"
say dave "does clippy still complain about that lifetime? 🤔"
say erin "it did for me too — 同じく, 我也是 🙂"
say bob "/join ops"
say erin "/join ops"
type_line "/join ops"
# Back to #rust; what follows is news in the other rooms.
xdotool windowfocus --sync "$W"
xdotool key alt+Up
sleep 0.5
say bob "deploy of 2.3.1 is done, dashboards are green"
say erin "/join lobby"
say carol "/join lobby"
say dave "/join lobby"
say erin "hi alice, welcome back 👋 — 你好, こんにちは, 안녕하세요"
say dave "lunch at 12:30?"
say carol "+1 🍜"
sleep 1
import -window "$W" "$OUT"
echo "wrote $OUT"

# The smallest window, over TLS without the server's certificate.
# A config of its own (alice's remembers the CA file), and the password.
XDG_CONFIG_HOME="$D/config-zoe" CHAT_PASSWORD='open sesame' \
    "$B/chat-gui" --server 127.0.0.1:$PORT --name zoe --tls --connect > "$D/gui2.log" 2>&1 &
PIDS="$PIDS $!"
sleep 3
N=$(xdotool search --onlyvisible --name '^chat-gui$' | head -1)
xdotool windowsize "$N" 620 440
sleep 1.5
import -window "$N" "$NARROW"
echo "wrote $NARROW"
