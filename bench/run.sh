#!/usr/bin/env bash
# mcpd load benchmark: POST /v1/tasks {"capability":"echo"} with durable
# commits, mcpd (REST, LMDB, group commit) against a FastAPI + uvicorn
# service keeping tasks in SQLite (WAL, synchronous=FULL), on the same
# machine under the same wrk load, in interleaved rounds. Prints tasks/s, p50
# and p99 latency for each and the ratios. See bench/README.md.
#
# Usage: bench/run.sh [--duration S] [--connections N] [--threads N]
#                     [--build DIR] [--warmup S] [--rounds N] [--only mcpd|fastapi]
#                     [--fastapi-workers LIST] [--fastapi-mode split|single]
#                     [--state-root DIR] [--keep]
#
# Exit status: 0 when every run answered only 2xx and the checks passed,
# 1 when a run saw errors or a check failed, 2 on a usage or setup error.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3

DURATION=10
CONNECTIONS=16
THREADS=2
WARMUP=2
ROUNDS=5
BUILD=$ROOT/build
ONLY=both
FASTAPI_WORKERS=1,2
FASTAPI_MODE="split"
STATE_ROOT=${TMPDIR:-/tmp}
KEEP=0

usage() {
	if [ "${1:-2}" = 0 ]; then
		sed -n 's/^# \{0,1\}//; 8,11p' "${BASH_SOURCE[0]}"
	else
		sed -n 's/^# \{0,1\}//; 8,11p' "${BASH_SOURCE[0]}" >&2
	fi
	exit "${1:-2}"
}
die() { echo "bench: $*" >&2; exit 2; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=${2:?}; shift 2 ;;
	--connections) CONNECTIONS=${2:?}; shift 2 ;;
	--threads) THREADS=${2:?}; shift 2 ;;
	--warmup) WARMUP=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--build) BUILD=${2:?}; shift 2 ;;
	--only) ONLY=${2:?}; shift 2 ;;
	--fastapi-workers) FASTAPI_WORKERS=${2:?}; shift 2 ;;
	--fastapi-mode) FASTAPI_MODE=${2:?}; shift 2 ;;
	--state-root) STATE_ROOT=${2:?}; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) usage 0 ;;
	*) echo "bench: unknown argument $1" >&2; usage 2 ;;
	esac
done
{ is_uint "$DURATION" && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 600 ]; } ||
	die "--duration must be 1 to 600 seconds"
{ is_uint "$WARMUP" && [ "$WARMUP" -le 60 ]; } || die "--warmup must be 0 to 60 seconds"
{ is_uint "$ROUNDS" && [ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le "$DURATION" ]; } ||
	die "--rounds must be from 1 to --duration ($DURATION): a round lasts whole seconds"
{ is_uint "$THREADS" && [ "$THREADS" -ge 1 ] && [ "$THREADS" -le 64 ]; } ||
	die "--threads must be 1 to 64"
{ is_uint "$CONNECTIONS" && [ "$CONNECTIONS" -ge "$THREADS" ] && [ "$CONNECTIONS" -le 1000 ]; } ||
	die "--connections must be from --threads ($THREADS) to 1000"
case $ONLY in both | mcpd | fastapi) ;; *) die "--only must be mcpd or fastapi" ;; esac
case $FASTAPI_MODE in split | single) ;; *) die "--fastapi-mode must be split or single" ;; esac
[[ $FASTAPI_WORKERS =~ ^[1-8](,[1-8])*$ ]] || die "--fastapi-workers is a list like 1,2 (1 to 8 each)"
ROUND_SECS=$((DURATION / ROUNDS))
if [ -d "$BUILD" ]; then
	BUILD=$(cd "$BUILD" && pwd)
elif [ "$ONLY" != fastapi ]; then
	die "no build directory $BUILD: build mcpd first (cmake -B build && cmake --build build), or pass --build DIR, or --only fastapi"
fi
MCPD=$BUILD/core/mcpd
if [ "$ONLY" != fastapi ] && [ ! -x "$MCPD" ]; then
	die "no daemon at $MCPD: build it first (cmake -B build && cmake --build build), or pass --build DIR, or --only fastapi"
fi

# --- what we need, installed only when missing -----------------------------
ensure_packages() {
	local need=() optional=()
	command -v wrk >/dev/null 2>&1 || need+=(wrk)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	[ -x "$PY" ] || need+=(python3)
	"$PY" -c 'import fastapi' 2>/dev/null || need+=(python3-fastapi)
	"$PY" -c 'import uvicorn' 2>/dev/null || need+=(uvicorn)
	# uvicorn's fast path (what "uvicorn[standard]" gives a production
	# deployment): without it the baseline is ~15% slower, which would flatter
	# mcpd. Best effort: the report says which implementation it got.
	"$PY" -c 'import uvloop' 2>/dev/null || optional+=(python3-uvloop)
	"$PY" -c 'import httptools' 2>/dev/null || optional+=(python3-httptools)
	[ ${#need[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ] && return 0

	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	local log
	log=$(mktemp)
	echo "bench: installing ${need[*]} ${optional[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >"$log" 2>&1 || true
	if [ ${#need[@]} -gt 0 ] &&
		! $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "could not install ${need[*]}"
	fi
	if [ ${#optional[@]} -gt 0 ] &&
		! $sudo apt-get install -y -qq --no-install-recommends "${optional[@]}" >>"$log" 2>&1; then
		echo "bench: could not install ${optional[*]}; FastAPI runs on asyncio/h11" >&2
	fi
	rm -f "$log"
}
ensure_packages

# --- scratch space, servers, cleanup -----------------------------------------
mkdir -p "$STATE_ROOT"
WORK=$(mktemp -d "$STATE_ROOT/mcpd-bench.XXXXXX")
NAMES=()         # servers, in start order
declare -A PID   # name -> pid while it runs
declare -A URL   # name -> http://127.0.0.1:PORT
declare -A LOGF  # name -> its stdout+stderr
declare -A R     # name.key -> result
CHILD_PID=
FAILED=0
NOTES=()

# run_child CMD...: run CMD in the background and wait for it, so that a
# signal interrupts the wait at once (bash runs traps only between commands).
run_child() {
	local rc=0
	"$@" &
	CHILD_PID=$!
	wait "$CHILD_PID" || rc=$?
	CHILD_PID=
	return "$rc"
}

# stop_server NAME: SIGTERM, 10 s grace, then SIGKILL. Sets R[NAME.exit]
# (137 when it had to be killed).
stop_server() {
	local name=$1 pid=${PID[$1]:-} rc=0
	[ -n "$pid" ] || return 0
	PID[$name]=
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bench: $name (pid $pid) ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	R[$name.exit]=$rc
}

# shellcheck disable=SC2317  # reached through the trap
cleanup() {
	local rc=$? n
	if [ -n "${CHILD_PID:-}" ]; then
		kill -TERM "$CHILD_PID" 2>/dev/null || true
		wait "$CHILD_PID" 2>/dev/null || true
	fi
	for n in "${NAMES[@]}"; do stop_server "$n"; done
	if [ "$KEEP" = 1 ]; then
		echo "bench: kept $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_ready NAME: /healthz answers 200 within 20 s, or fail.
wait_ready() {
	local name=$1
	for _ in $(seq 200); do
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			echo "bench: $name exited while starting; its log:" >&2
			tail -n 30 "${LOGF[$name]}" >&2
			exit 1
		fi
		curl -fsS --max-time 1 -o /dev/null "${URL[$name]}/healthz" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: $name did not answer ${URL[$name]}/healthz in 20 s; its log:" >&2
	tail -n 30 "${LOGF[$name]}" >&2
	exit 1
}

BODY='{"capability":"echo","input":{"text":"hello from wrk","n":42,"tags":["a","b"]}}'

# probe NAME: one POST must answer 201 before we load the server.
probe() {
	local name=$1 code
	code=$(curl -sS --max-time 5 -o "$WORK/probe.json" -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$BODY" "${URL[$name]}/v1/tasks") || code=000
	if [ "$code" != 201 ]; then
		echo "bench: $name answered $code to POST /v1/tasks (want 201):" >&2
		cat "$WORK/probe.json" >&2 2>/dev/null || true
		echo >&2
		exit 1
	fi
}

# wrk_run NAME SECONDS OUT [HIST]: one wrk run against NAME.
wrk_run() {
	local name=$1 secs=$2 out=$3 hist=${4:-}
	WRK_LATENCY_FILE=$hist run_child timeout $((secs + 30)) \
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s \
		-s "$HERE/post_task.lua" "${URL[$name]}/v1/tasks" >"$out" 2>&1 ||
		{ cat "$out" >&2; echo "bench: wrk against $name failed" >&2; exit 1; }
	grep -q '^WRK_RESULT ' "$out" ||
		{ cat "$out" >&2; echo "bench: no WRK_RESULT line from wrk" >&2; exit 1; }
}

# aggregate NAME: merge NAME's rounds (WRK_RESULT lines and latency
# histograms) into R[NAME.*]; percentiles computed as wrk computes them.
aggregate() {
	local name=$1 kv line
	line=$("$PY" - "$WORK/$name" "$ROUNDS" <<'EOF'
import math, sys
base, rounds = sys.argv[1], int(sys.argv[2])
tot = {"requests": 0, "ok": 0, "non2xx": 0, "err_connect": 0, "err_read": 0,
       "err_write": 0, "err_timeout": 0}
secs, maxms, per_round, hist = 0.0, 0.0, [], {}
for r in range(1, rounds + 1):
    kv = {}
    for ln in open(f"{base}.r{r}.wrk"):
        if ln.startswith("WRK_RESULT "):
            kv = dict(f.split("=", 1) for f in ln.split()[1:])
    for k in tot:
        tot[k] += int(kv[k])
    secs += float(kv["duration_s"])
    maxms = max(maxms, float(kv["max_ms"]))
    per_round.append(f'{float(kv["tasks_per_s"]):.0f}')
    for ln in open(f"{base}.r{r}.hist"):
        us, n = map(int, ln.split())
        hist[us] = hist.get(us, 0) + n
count = sum(hist.values())
def pct(p):
    rank = max(1, math.floor(p / 100 * count + 0.5 + 0.5))  # wrk: round(x + 0.5)
    seen = 0
    for us in sorted(hist):
        seen += hist[us]
        if seen >= rank:
            return us / 1000
    return 0.0
out = dict(tot, duration_s=f"{secs:.3f}", tasks_per_s=f"{tot['ok'] / secs:.1f}",
           p50_ms=f"{pct(50):.3f}", p90_ms=f"{pct(90):.3f}", p99_ms=f"{pct(99):.3f}",
           max_ms=f"{maxms:.3f}", rounds=",".join(per_round))
print(" ".join(f"{k}={v}" for k, v in out.items()))
EOF
	) || { echo "bench: could not merge the rounds of $name" >&2; exit 1; }
	for kv in $line; do
		R[$name.${kv%%=*}]=${kv#*=}
	done
	local errs=$((${R[$name.non2xx]} + ${R[$name.err_connect]} + ${R[$name.err_read]} +
		${R[$name.err_write]} + ${R[$name.err_timeout]}))
	if [ "$errs" -ne 0 ]; then
		NOTES+=("$name FAILED: ${R[$name.non2xx]} non-2xx answers; socket errors: connect ${R[$name.err_connect]}, read ${R[$name.err_read]}, write ${R[$name.err_write]}, timeout ${R[$name.err_timeout]}")
		FAILED=1
	fi
}

# json_get FILE PYEXPR: evaluate PYEXPR on the parsed JSON document "d".
json_get() {
	"$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

fs_type=$(stat -f -c %T "$WORK")
case $fs_type in tmpfs | ramfs)
	NOTES+=("WARNING: $WORK is on $fs_type: fsync costs nothing there, so this is not a durability benchmark; pass --state-root on a disk")
	;;
esac
# What one fsync costs here: it decides how much mcpd's group commit buys.
fsync_us=$("$PY" - "$WORK/fsync-probe" <<'EOF'
import os, statistics, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
buf, t = b"x" * 4096, []
for i in range(200):
    os.pwrite(fd, buf, (i % 16) * 4096)
    s = time.perf_counter()
    os.fdatasync(fd)
    t.append(time.perf_counter() - s)
os.close(fd)
os.unlink(sys.argv[1])
print(f"{statistics.median(t) * 1e6:.0f}")
EOF
)

# --- the servers ---------------------------------------------------------------
start_mcpd() {
	local name=mcpd port
	port=$(free_port)
	URL[$name]=http://127.0.0.1:$port
	LOGF[$name]=$WORK/mcpd.log
	mkdir -p "$WORK/mcpd-state"
	# shellcheck disable=SC2086  # MCPD_ARGS: extra flags, split on purpose
	"$MCPD" --listen "127.0.0.1:$port" --plugin-dir "$BUILD/plugins" \
		--state-dir "$WORK/mcpd-state" ${MCPD_ARGS:-} >"${LOGF[$name]}" 2>&1 &
	PID[$name]=$!
	NAMES+=("$name")
	wait_ready "$name"
}

FASTAPI_IMPL=
start_fastapi() {
	local workers=$1 name=fastapi-w$1 port loop=asyncio http=h11
	"$PY" -c 'import uvloop' 2>/dev/null && loop=uvloop
	"$PY" -c 'import httptools' 2>/dev/null && http=httptools
	FASTAPI_IMPL="uvicorn loop=$loop http=$http"
	port=$(free_port)
	URL[$name]=http://127.0.0.1:$port
	LOGF[$name]=$WORK/$name.log
	mkdir -p "$WORK/$name"
	# No __pycache__ in the source tree.
	PYTHONDONTWRITEBYTECODE=1 "$PY" "$HERE/fastapi_tasks.py" --host 127.0.0.1 --port "$port" \
		--db "$WORK/$name/tasks.db" --workers "$workers" --mode "$FASTAPI_MODE" \
		--synchronous FULL --loop "$loop" --http "$http" >"${LOGF[$name]}" 2>&1 &
	PID[$name]=$!
	NAMES+=("$name")
	wait_ready "$name"
}

# Checks while mcpd still runs: the acknowledged tasks are there, echo ran.
check_mcpd_live() {
	local url=${URL[mcpd]} id st sub
	if curl -fsS --max-time 5 -o "$WORK/list.json" "$url/v1/tasks?limit=1" &&
		id=$(json_get "$WORK/list.json" 'd["tasks"][0]["id"]') && [ -n "$id" ]; then
		curl -fsS --max-time 10 -o "$WORK/last.json" "$url/v1/tasks/$id?wait=5" || true
		st=$(json_get "$WORK/last.json" 'd["status"]') || st=unknown
		NOTES+=("mcpd check: GET /v1/tasks?limit=1 lists tasks; newest $id is $st")
		[ "$st" = succeeded ] || { NOTES+=("mcpd check FAILED: newest task is $st, want succeeded"); FAILED=1; }
	else
		NOTES+=("mcpd check FAILED: GET /v1/tasks?limit=1 lists no task after ${R[mcpd.ok]} acknowledged")
		FAILED=1
	fi
	# Best effort: the submitted counter covers every acknowledged task.
	if curl -fsS --max-time 5 -o "$WORK/metrics.txt" "$url/metrics" 2>/dev/null; then
		sub=$(awk '/^mcpd_tasks_submitted_total\{[^}]*capability="echo"/ { s += $NF; n++ } END { if (n) printf "%d", s }' "$WORK/metrics.txt")
		if [ -n "$sub" ]; then
			if [ "$sub" -ge "${R[mcpd.ok]}" ]; then
				NOTES+=("mcpd check: mcpd_tasks_submitted_total{echo} = $sub >= ${R[mcpd.ok]} acknowledged in the timed rounds")
			else
				NOTES+=("mcpd check FAILED: mcpd_tasks_submitted_total{echo} = $sub < ${R[mcpd.ok]} acknowledged")
				FAILED=1
			fi
		fi
	fi
}

# Checks once mcpd has stopped.
check_mcpd_stopped() {
	if [ "${R[mcpd.exit]:-0}" -ne 0 ]; then
		NOTES+=("mcpd check FAILED: exited with status ${R[mcpd.exit]} on SIGTERM; log: $(tail -n 3 "${LOGF[mcpd]}" | tr '\n' ' ')")
		FAILED=1
	fi
}

# Checks once a FastAPI server has stopped: its settings, its rows.
check_fastapi_stopped() {
	local name=$1 ready counts rows done_rows
	# The server states its own SQLite settings; check them, not our wishes.
	ready=$(grep -m1 '"fastapi_tasks ready"' "${LOGF[$name]}" || true)
	case $ready in
	*'"journal_mode": "wal"'*'"synchronous": "FULL"'*) ;;
	*) NOTES+=("$name check FAILED: SQLite not in WAL + synchronous=FULL: $ready"); FAILED=1 ;;
	esac
	# Every acknowledged task is a row, and echo finished each one.
	counts=$("$PY" -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(*db.execute("SELECT count(*), count(*) FILTER (WHERE status = '"'succeeded'"') FROM tasks").fetchone())' "$WORK/$name/tasks.db") || counts="0 0"
	read -r rows done_rows <<<"$counts"
	if [ "$rows" -ge "${R[$name.ok]}" ] && [ "$done_rows" -eq "$rows" ]; then
		NOTES+=("$name check: SQLite has $rows task rows (>= ${R[$name.ok]} acknowledged in the timed rounds), all succeeded")
	else
		NOTES+=("$name check FAILED: SQLite has $rows rows, $done_rows succeeded, ${R[$name.ok]} acknowledged")
		FAILED=1
	fi
}

# --- run -----------------------------------------------------------------------
START=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
[ "$ONLY" = fastapi ] || start_mcpd
if [ "$ONLY" != mcpd ]; then
	IFS=, read -ra wl <<<"$FASTAPI_WORKERS"
	for w in "${wl[@]}"; do
		[ -n "${URL[fastapi-w$w]:-}" ] || start_fastapi "$w"
	done
fi
for n in "${NAMES[@]}"; do
	probe "$n"
	if [ "$WARMUP" -gt 0 ]; then
		echo "bench: warming up $n for ${WARMUP}s ..." >&2
		wrk_run "$n" "$WARMUP" "$WORK/$n.warmup"
	fi
done
# Interleaved rounds, the starting server rotating, so that whatever else the
# machine does during the run falls on every server alike.
sync
n_servers=${#NAMES[@]}
echo "bench: $ROUNDS rounds of ${ROUND_SECS}s per server (-t$THREADS -c$CONNECTIONS) ..." >&2
for ((r = 1; r <= ROUNDS; r++)); do
	for ((i = 0; i < n_servers; i++)); do
		n=${NAMES[$(((r - 1 + i) % n_servers))]}
		wrk_run "$n" "$ROUND_SECS" "$WORK/$n.r$r.wrk" "$WORK/$n.r$r.hist"
	done
done
for n in "${NAMES[@]}"; do aggregate "$n"; done
if [ -n "${PID[mcpd]:-}" ]; then
	check_mcpd_live
fi
for n in "${NAMES[@]}"; do stop_server "$n"; done
for n in "${NAMES[@]}"; do
	case $n in
	mcpd) check_mcpd_stopped ;;
	*) check_fastapi_stopped "$n" ;;
	esac
done

# --- report ------------------------------------------------------------------
label() {
	case $1 in
	mcpd) echo "mcpd (REST, LMDB group commit)" ;;
	fastapi-w1) echo "FastAPI+uvicorn, 1 worker" ;;
	fastapi-w*) echo "FastAPI+uvicorn, ${1#fastapi-w} workers" ;;
	esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "== mcpd load benchmark: POST /v1/tasks echo, durable commit =="
echo "machine: $(nproc) CPUs, $(uname -sr), load average before $LOADAVG"
echo "state: $fs_type ($WORK), one 4 KiB write + fdatasync: median ${fsync_us} us"
echo "load: wrk -t$THREADS -c$CONNECTIONS, ${WARMUP}s warm-up, then $ROUNDS interleaved rounds of ${ROUND_SECS}s per server"
echo "body: $BODY"
if [ "$ONLY" != mcpd ]; then
	echo "FastAPI: $FASTAPI_IMPL, SQLite journal_mode=WAL synchronous=FULL, mode=$FASTAPI_MODE"
	echo "  why FULL: in WAL mode FULL fsyncs the WAL on every commit, so a 201 is on disk"
	echo "  (mcpd's contract); NORMAL skips that fsync and can lose acknowledged tasks on"
	echo "  power loss; the rollback journal would be durable but cost several fsyncs a commit."
	if [ "$FASTAPI_MODE" = split ]; then
		echo "  work per task: INSERT queued + COMMIT before the 201, then echo's"
		echo "  UPDATE succeeded + COMMIT: two durable commits, as mcpd stores submit and result."
	else
		echo "  work per task: one INSERT with status succeeded and result, COMMIT before the 201."
	fi
fi
echo
printf '%-32s %10s %9s %9s %9s %8s  %s\n' "server" "tasks/s" "p50 ms" "p99 ms" "max ms" "non-2xx" "tasks/s by round"
for n in "${NAMES[@]}"; do
	printf '%-32s %10s %9s %9s %9s %8s  %s\n' "$(label "$n")" "${R[$n.tasks_per_s]}" \
		"${R[$n.p50_ms]}" "${R[$n.p99_ms]}" "${R[$n.max_ms]}" "${R[$n.non2xx]}" \
		"${R[$n.rounds]//,/ }"
done
if [ "$ONLY" = both ]; then
	echo
	printf '%-32s %10s %9s %9s\n' "mcpd / baseline" "tasks/s" "p50" "p99"
	for n in "${NAMES[@]}"; do
		[ "$n" = mcpd ] && continue
		printf '%-32s %9sx %8sx %8sx\n' "vs $(label "$n")" \
			"$(ratio "${R[mcpd.tasks_per_s]}" "${R[$n.tasks_per_s]}")" \
			"$(ratio "${R[mcpd.p50_ms]}" "${R[$n.p50_ms]}")" \
			"$(ratio "${R[mcpd.p99_ms]}" "${R[$n.p99_ms]}")"
	done
	echo "(tasks/s above 1: mcpd accepts more; latency below 1: mcpd answers faster)"
fi
echo
for note in "${NOTES[@]}"; do echo "$note"; done
# One line per server and per comparison, for scripts.
for n in "${NAMES[@]}"; do
	echo "BENCH name=$n tasks_per_s=${R[$n.tasks_per_s]} p50_ms=${R[$n.p50_ms]}" \
		"p90_ms=${R[$n.p90_ms]} p99_ms=${R[$n.p99_ms]} max_ms=${R[$n.max_ms]}" \
		"requests=${R[$n.requests]} ok=${R[$n.ok]} non2xx=${R[$n.non2xx]}" \
		"duration_s=${R[$n.duration_s]} rounds=${R[$n.rounds]}"
done
if [ "$ONLY" = both ]; then
	for n in "${NAMES[@]}"; do
		[ "$n" = mcpd ] && continue
		echo "BENCH_RATIO mcpd_vs=$n throughput=$(ratio "${R[mcpd.tasks_per_s]}" "${R[$n.tasks_per_s]}")" \
			"p50=$(ratio "${R[mcpd.p50_ms]}" "${R[$n.p50_ms]}")" \
			"p99=$(ratio "${R[mcpd.p99_ms]}" "${R[$n.p99_ms]}")"
	done
fi
echo "bench: done in $(($(date +%s) - START)) s" >&2
exit "$FAILED"
