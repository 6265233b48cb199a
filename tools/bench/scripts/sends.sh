#!/bin/bash
# One paced relay run against a server started here, with `perf stat`
# counting the server's system calls (sends, reads, futex, epoll), the
# wake-ups it causes (sched_waking) and its context switches: how many
# lines each write carried.
#
#   sends.sh SERVER_BIN [server flags]      (needs perf; run as root)
#
# CHAT_BENCH: the chat-bench binary (default: target/release/chat-bench).
# BENCH_ARGS: more flags for the relay run, e.g. --stagger.
set -euo pipefail
bin=$1
shift
port=${PORT:-18555}
bench=${CHAT_BENCH:-target/release/chat-bench}
out=$(mktemp)
"$bin" "$@" --listen "127.0.0.1:$port" --rate-limit off --max-per-ip 100000 \
    --max-clients 100000 --no-history --replay 0 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$out"' EXIT
sleep 0.5
perf stat -x, -o "$out" -p "$server" -e 'sched:sched_waking,raw_syscalls:sys_enter,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_timerfd_settime,context-switches,task-clock' &
perf=$!
sleep 0.3
"$bench" relay --server "127.0.0.1:$port" --server-pid "$server" --clients 50 --senders 5 \
    --messages 1000 --rate 200 ${BENCH_ARGS:-} | grep -E 'server CPU per delivery|voluntary|latency p99'
kill -INT $perf
wait $perf || true
grep -v '^#' "$out" | awk -F, 'NF > 2 {print $3 "=" $1}' | sed 's/syscalls:sys_enter_//'
