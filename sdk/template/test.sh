#!/bin/sh
# TAP test of the template plugin in a real daemon: starts mcpd on a free
# loopback port with only this plugin, and drives it with mcpctl.
#   sh test.sh path/to/template.so
# mcpd and mcpctl come from $MCPD_BIN / $MCPCTL_BIN, else from PATH (and
# /usr/sbin); without them the test is skipped.
set -u
so=${1:?usage: test.sh PLUGIN.so}

find_bin() { # find_bin NAME OVERRIDE
	if [ -n "$2" ]; then echo "$2"; return; fi
	command -v "$1" 2>/dev/null && return
	[ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"
}
mcpd=$(find_bin mcpd "${MCPD_BIN:-}")
mcpctl=$(find_bin mcpctl "${MCPCTL_BIN:-}")
if [ -z "$mcpd" ] || [ -z "$mcpctl" ]; then
	echo "1..0 # SKIP mcpd or mcpctl not found (set MCPD_BIN, MCPCTL_BIN)"
	exit 0
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir "$tmp/plugins"
cp "$so" "$tmp/plugins/"
cat >"$tmp/mcpd.json" <<'EOF'
{"plugins": {"template": {"max_limit": 50000000}}}
EOF
"$mcpd" --config "$tmp/mcpd.json" --listen 127.0.0.1:0 \
	--plugin-dir "$tmp/plugins" --state-dir "$tmp/state" \
	>"$tmp/out" 2>"$tmp/log" &
pid=$!
url=""
for _ in $(seq 100); do
	url=$(sed -n 's/^mcpd listening on \(http[^ ]*\).*/\1/p' "$tmp/out")
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
echo "1..7"
if [ -z "$url" ]; then
	echo "Bail out! mcpd did not start:"
	sed 's/^/# /' "$tmp/log"
	exit 1
fi

n=0
failed=0
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
	n=$((n + 1))
	desc=$1
	shift
	if "$@" >"$tmp/check" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
		sed 's/^/# /' "$tmp/check"
	fi
}
ctl() { "$mcpctl" --url "$url" --json "$@"; }
# has FILE PATTERN...: every extended regex matches a line of FILE
has() {
	f=$1
	shift
	for re in "$@"; do
		grep -Eq "$re" "$f" || { echo "no match for $re in:"; cat "$f"; return 1; }
	done
}

ctl capabilities >"$tmp/caps"
check "the plugin loaded and declares primes.count" \
	has "$tmp/caps" '"name": "primes.count"'

ctl submit primes.count '{"limit": 100000}' --wait >"$tmp/t1"
check "counts the primes up to 100000" has "$tmp/t1" \
	'"status": "succeeded"' '"count": 9592' '"largest": 99991' '"cached": false'

ctl submit primes.count '{"limit": 100000}' --wait >"$tmp/t2"
check "answers again from its key-value space" has "$tmp/t2" \
	'"count": 9592' '"cached": true'

refused() { # the submit exits 4 and names the error
	ctl submit primes.count "$1" >"$tmp/t3" 2>&1
	rc=$?
	[ "$rc" -eq 4 ] || { echo "exit code $rc, not 4"; return 1; }
	has "$tmp/t3" invalid_input
}
check "input that fails the schema is refused" refused '{"limit": "many"}'

ctl submit primes.count '{"limit": 60000000}' --wait >"$tmp/t4" 2>&1
check "the config block's max_limit is applied" has "$tmp/t4" \
	'"status": "failed"' '"code": "too_large"'

ctl submit primes.count '{"limit": 50000000}' >"$tmp/t5"
id=$(sed -n 's/^  "id": "\([0-9a-f]*\)".*/\1/p' "$tmp/t5")
for _ in $(seq 100); do
	ctl get "$id" >"$tmp/t5"
	grep -q '"done"' "$tmp/t5" && break
	sleep 0.1
done
check "a long task reports progress" has "$tmp/t5" '"status": "running"' '"done": [1-9]'

ctl cancel "$id" >/dev/null
ctl get "$id" >"$tmp/t6"
check "and stops when cancelled" has "$tmp/t6" '"status": "cancelled"'
[ "$failed" -eq 0 ]
