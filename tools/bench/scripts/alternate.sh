#!/bin/bash
# Alternates single-run `chat-bench compare` runs of several server builds
# (or flags), round-robin, so that each sees the same machine load; prints
# one line per run. docs/BENCHMARKS.md "Wake-ups, round 2" was measured so.
#
#   alternate.sh ROUNDS PRESET "SERVER_BIN [server flags]" ...
#   alternate.sh 5 paced "old/chat-server" "target/release/chat-server --linger 0"
#
# CHAT_BENCH: the chat-bench binary (default: target/release/chat-bench).
# BASELINE: where compare runs the baseline, process (default) or thread.
# BENCH_ARGS: more flags for compare, e.g. --stagger.
set -euo pipefail
rounds=$1 preset=$2
shift 2
variants=("$@")
bench=${CHAT_BENCH:-target/release/chat-bench}
# The relay's, the baseline's and the ratio's cells of one row.
field() { grep -F "| $1" <<<"$out" | awk -F'|' '{print $3, $4, $5}' | xargs; }
for _ in $(seq "$rounds"); do
    for v in "${variants[@]}"; do
        read -r -a words <<<"$v"
        args=(--preset "$preset" --runs 1 --max-send-queue 16777216 --baseline "${BASELINE:-process}"
            --server-bin "${words[0]}")
        read -r -a extra <<<"${BENCH_ARGS:-}"
        args+=("${extra[@]}")
        for w in "${words[@]:1}"; do args+=("--server-arg=$w"); done
        out=$("$bench" compare "${args[@]}" 2>&1) || true
        echo "$v | CPU/delivery relay, baseline, ratio: $(field 'server CPU per delivery') |" \
            "voluntary switches: $(field 'of which voluntary' | cut -d' ' -f1) |" \
            "p50 relay, baseline: $(field 'latency p50' | cut -d' ' -f1-2) |" \
            "p99: $(field 'latency p99' | cut -d' ' -f1-2) |" \
            "missing: $(field 'missing' | cut -d' ' -f1) | load $(cut -d' ' -f1 /proc/loadavg)"
    done
done
