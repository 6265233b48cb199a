#!/bin/bash
# `perf record -g` of one process, the server or the baseline in a process
# of its own, during one paced relay run: where each spends its CPU
# (docs/BENCHMARKS.md, "Wake-ups, round 3").
#
#   profile.sh server|baseline OUT.data      (needs perf; run as root)
#   perf report -i OUT.data --no-children -n --sort sym
#
# BIN_DIR: where chat-server and chat-bench are (default: target/release).
set -euo pipefail
what=$1 out=$2
dir=${BIN_DIR:-target/release}
case $what in
    server)
        port=${PORT:-18590}
        "$dir/chat-server" --listen "127.0.0.1:$port" --rate-limit off --max-per-ip 100000 \
            --max-clients 100000 --no-history --replay 0 >/dev/null 2>&1 &
        pid=$! addr=127.0.0.1:$port
        sleep 0.4
        ;;
    baseline)
        coproc B (exec "$dir/chat-bench" serve-baseline)
        pid=$B_PID
        read -r addr <&"${B[0]}"
        ;;
    *) echo "usage: profile.sh server|baseline OUT.data" >&2; exit 2 ;;
esac
trap 'kill $pid 2>/dev/null' EXIT
perf record -F 4999 -g -o "$out" -p "$pid" 2>/dev/null &
perf=$!
sleep 0.2
"$dir/chat-bench" relay --server "$addr" --server-pid "$pid" --clients 50 --senders 5 \
    --messages 1000 --rate 200 | grep -E 'CPU per delivery|voluntary' || true
kill -INT $perf
wait $perf || true
