#!/bin/sh
# The package test (a step of ./dev test, never run by ctest: it installs
# system packages). On a Debian machine, as root or with sudo:
#   packaging/test-packages.sh [PKGDIR]
# builds both packages into PKGDIR (default build-pkg/out) unless they are
# there already, checks the .deb with dpkg-deb and lintian, installs it,
# starts the installed daemon on a free loopback port, builds the SDK's
# template plugin out of tree against the installed mcpd-dev (with
# pkg-config and with CMake), drops it into the drop-in directory, reloads,
# calls it over REST, then purges everything it installed and checks that
# nothing is left. Then it checks the .rpm's file list and requires.
# Whatever happens, the machine is left as it was (trap), within 15 min.
set -eu
if [ -z "${MCPD_PKGTEST_TIMED:-}" ]; then
	# --foreground: on timeout only this script gets SIGTERM; its trap
	# cleans up once the current step (apt-get, a build) has finished.
	MCPD_PKGTEST_TIMED=1 exec timeout --foreground -k 120 900 "$0" "$@"
fi
cd "$(dirname "$0")/.."
src=$(pwd)
pkgdir=${1:-$src/build-pkg/out}
case "$pkgdir" in /*) ;; *) pkgdir=$src/$pkgdir ;; esac # apt-get wants a path
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
plugindir=/usr/lib/$arch/mcpd/plugins
dropin=/usr/local/lib/mcpd/plugins
t0=$(date +%s)

say() { printf '==> %s\n' "$*"; }
n=0
failed=0
check() { # check DESCRIPTION COMMAND...
	n=$((n + 1))
	desc=$1
	shift
	if "$@" >"$tmp/check" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$tmp/check"
		failed=$((failed + 1))
	fi
}
# has FILE REGEX...: each extended regex matches a line of FILE
has() {
	f=$1
	shift
	for re in "$@"; do
		grep -Eq -- "$re" "$f" || { echo "no line matches $re in:"; cat "$f"; return 1; }
	done
}
absent() { # absent PATH...: none of them exists
	rc=0
	for p in "$@"; do
		if [ -e "$p" ] || [ -L "$p" ]; then echo "left behind: $p"; rc=1; fi
	done
	return $rc
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
aptget() { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 "$@"; }
# purge PACKAGE...: also when an interrupted dpkg run must be finished first
purge() {
	aptget purge -y -qq "$@" >"$tmp/purge" 2>&1 && return 0
	$SUDO env DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null 2>&1
	aptget purge -y -qq "$@" >"$tmp/purge" 2>&1 || { cat "$tmp/purge"; return 1; }
}

tmp=$(mktemp -d /tmp/mcpd-pkgtest.XXXXXX)
chmod 755 "$tmp"
pid=""
we_installed=""
user_existed=""
getent passwd mcpd >/dev/null && user_existed=1
dpkg-query -W -f='${Package}\n' | sort >"$tmp/packages.before"

stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=""
	fi
}
# Leaves the machine as it was: the daemon stopped, our packages and the
# dependencies they pulled in purged, the user gone if we made it.
cleanup() {
	set +e
	stop_daemon
	$SUDO rm -f "$dropin/template.so"
	if [ -n "$we_installed" ]; then
		for p in mcpd-dev mcpd; do
			installed $p && purge $p
		done
		dpkg-query -W -f='${Package}\n' | sort >"$tmp/packages.after"
		pulled=$(comm -13 "$tmp/packages.before" "$tmp/packages.after")
		[ -n "$pulled" ] && purge $pulled
		if [ -z "$user_existed" ] && getent passwd mcpd >/dev/null; then
			$SUDO userdel mcpd 2>/dev/null
			$SUDO groupdel mcpd 2>/dev/null
		fi
	fi
	$SUDO rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

for p in mcpd mcpd-dev; do
	if installed $p; then
		echo "$p is installed on this machine: the package test would replace it; not running" >&2
		exit 1
	fi
done

# ---- build and inspect ------------------------------------------------
if ! ls "$pkgdir"/mcpd_*.deb "$pkgdir"/mcpd-dev_*.deb "$pkgdir"/mcpd-*.rpm >/dev/null 2>&1; then
	say "building the packages (packaging/build-packages.sh)"
	packaging/build-packages.sh "$pkgdir"
fi
deb=$(ls "$pkgdir"/mcpd_*.deb)
devdeb=$(ls "$pkgdir"/mcpd-dev_*.deb)
rpm=$(ls "$pkgdir"/mcpd-[0-9]*.rpm)
devrpm=$(ls "$pkgdir"/mcpd-devel-*.rpm)
version=$(dpkg-deb -f "$deb" Version)

say "dpkg-deb: $(basename "$deb") $(basename "$devdeb")"
dpkg-deb -f "$deb" Package Version Depends
dpkg-deb -f "$devdeb" Package Version Depends
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/deb.files"
dpkg-deb -c "$devdeb" | awk '{print $6}' >"$tmp/devdeb.files"
dpkg-deb -e "$deb" "$tmp/control"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/mcpd.service >"$tmp/unit"
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/mcpd/mcpd.json >"$tmp/config"
dpkg-deb -f "$deb" Depends >"$tmp/depends"
dpkg-deb -f "$devdeb" Depends >"$tmp/devdepends"
check "runtime .deb holds the programs, plugins, config, unit and man pages" \
	has "$tmp/deb.files" '^\./usr/sbin/mcpd$' '^\./usr/bin/mcpctl$' \
	'^\./usr/bin/mcpd-plugin-run$' "^\./usr/lib/$arch/mcpd/plugins/echo\.so$" \
	"^\./usr/lib/$arch/mcpd/plugins/sleep\.so$" '^\./etc/mcpd/mcpd\.json$' \
	'^\./lib/systemd/system/mcpd\.service$' '^\./usr/share/man/man8/mcpd\.8\.gz$' \
	'^\./usr/share/man/man1/mcpctl\.1\.gz$' '^\./usr/share/man/man1/mcpd-plugin-run\.1\.gz$' \
	'^\./usr/share/doc/mcpd/copyright$'
check "-dev .deb holds the headers, .pc, CMake package and template" \
	has "$tmp/devdeb.files" '^\./usr/include/mcpd/plugin\.h$' \
	"^\./usr/lib/$arch/pkgconfig/mcpd-plugin\.pc$" \
	"^\./usr/lib/$arch/cmake/mcpd/mcpdConfig\.cmake$" \
	'^\./usr/share/mcpd/template/CMakeLists\.txt$' '^\./usr/share/mcpd/template/test\.sh$'
check "the config is a conffile" has "$tmp/control/conffiles" '^/etc/mcpd/mcpd\.json$'
check "maintainer scripts are there" ls "$tmp/control/postinst" "$tmp/control/prerm" "$tmp/control/postrm"
check "the unit reloads with SIGHUP and runs the packaged paths" has "$tmp/unit" \
	'^Type=notify$' '^ExecReload=/bin/kill -HUP \$MAINPID$' '^User=mcpd$' \
	'^ExecStart=/usr/sbin/mcpd --config /etc/mcpd/mcpd\.json$'
check "the config lists both plugin dirs and the state dir" has "$tmp/config" \
	"\"plugin_dirs\": \[\"$plugindir\", \"$dropin\"\]" '"state_dir": "/var/lib/mcpd"'
check "library dependencies come from dpkg-shlibdeps" has "$tmp/depends" \
	'libjansson4 \(>=' 'libevent-2\.1-7 \(>=' 'liblmdb0 \(>=' 'libc6 \(>='
check "-dev depends on exactly this runtime" has "$tmp/devdepends" "mcpd \(= $version\)"

if command -v lintian >/dev/null; then
	say "lintian"
	lintian --pedantic --info "$deb" "$devdeb" >"$tmp/lintian" 2>&1 || true
	grep -E '^[EWIPX]:' "$tmp/lintian" || echo "(no findings)"
	check "lintian reports no errors" sh -c "! grep -q '^E:' '$tmp/lintian'"
else
	echo "# lintian not installed: skipped"
fi

# ---- install and run ------------------------------------------------------
say "installing $(basename "$deb") $(basename "$devdeb") with apt-get"
we_installed=1
if ! aptget install -y -qq "$deb" "$devdeb" >"$tmp/apt" 2>&1; then
	aptget update -qq >/dev/null 2>&1 # a dependency may be missing from the lists
	aptget install -y -qq "$deb" "$devdeb" >"$tmp/apt" 2>&1 || { cat "$tmp/apt"; exit 1; }
fi
check "both packages are installed" sh -c 'dpkg -s mcpd mcpd-dev | grep -c "ok installed" | grep -qx 2'
check "postinst made the mcpd system user" getent passwd mcpd
stat -c '%U:%G %a' /var/lib/mcpd >"$tmp/statedir" 2>&1 || true
check "postinst made /var/lib/mcpd, owned by mcpd, mode 750" has "$tmp/statedir" '^mcpd:mcpd 750$'
check "postinst made the drop-in dir $dropin" test -d "$dropin"
check "the daemon's man page is installed" test -f /usr/share/man/man8/mcpd.8.gz

say "starting the installed daemon (as user mcpd) with /etc/mcpd/mcpd.json"
$SUDO install -d -o mcpd -g mcpd -m 0750 "$tmp/state"
$SUDO setpriv --reuid=mcpd --regid=mcpd --init-groups /usr/sbin/mcpd --config /etc/mcpd/mcpd.json \
	--listen 127.0.0.1:0 --state-dir "$tmp/state" >"$tmp/out" 2>"$tmp/log" &
pid=$!
url=""
for _ in $(seq 100); do
	url=$(sed -n 's/^mcpd listening on \(http[^ ]*\).*/\1/p' "$tmp/out")
	[ -n "$url" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "not ok - the installed mcpd did not start:"
	sed 's/^/#   /' "$tmp/log"
	exit 1
fi
echo "# serving on $url"
ctl() { mcpctl --url "$url" --json "$@"; }
ctl plugins >"$tmp/plugins"
check "it loads the packaged plugins from $plugindir" has "$tmp/plugins" \
	"\"file\": \"$plugindir/echo\.so\"" "\"file\": \"$plugindir/sleep\.so\""
ctl submit sleep '{"ms": 10}' --wait >"$tmp/sleep"
check "a bundled plugin runs a task" has "$tmp/sleep" '"status": "succeeded"'

say "building the template out of tree against the installed SDK"
cp -r /usr/share/mcpd/template "$tmp/tpl-pc"
cp -r /usr/share/mcpd/template "$tmp/tpl-cmake"
check "pkg-config names the plugin dir" \
	test "$(pkg-config --variable=plugindir mcpd-plugin)" = "$plugindir"
check "cc with pkg-config builds it" sh -c "cd '$tmp/tpl-pc' &&
	cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
	\$(pkg-config --cflags mcpd-plugin) -o template.so template.c \
	\$(pkg-config --libs mcpd-plugin)"
check "cmake -B build && cmake --build build builds it (find_package(mcpd))" \
	sh -c "cd '$tmp/tpl-cmake' && cmake -B build >/dev/null && cmake --build build"
nm -D --defined-only "$tmp/tpl-cmake/build/template.so" 2>&1 |
	awk '$2 == "T" {print $3}' >"$tmp/exports"
check "the plugin exports only mcpd_plugin_v1" sh -c "test \"\$(cat '$tmp/exports')\" = mcpd_plugin_v1"
(cd "$tmp/tpl-cmake" && ctest --test-dir build -V) >"$tmp/ctest" 2>&1 || true
check "its TAP test runs (not skipped) and passes against the installed mcpd" \
	has "$tmp/ctest" '100% tests passed' ' ok 7 - ' 

# call_rest: submit primes.count over REST, wait for it, print the task
call_rest() {
	id=$(curl -sS --max-time 10 -H 'Content-Type: application/json' \
		-d '{"capability": "primes.count", "input": {"limit": 100000}}' \
		"$url/v1/tasks" | grep -o '"id": *"[0-9a-f]\{32\}"' | head -1 |
		grep -o '[0-9a-f]\{32\}')
	[ -n "$id" ] || { echo "no task id"; return 1; }
	curl -sS --max-time 15 "$url/v1/tasks/$id?wait=10"
}
for build in cmake pc; do
	say "dropping the $build-built template into $dropin and reloading"
	$SUDO install -m 0644 "$tmp/tpl-$build/$([ $build = cmake ] && echo build/)template.so" "$dropin/template.so"
	check "mcpctl reload --wait picks it up ($build build)" sh -c \
		"mcpctl --url '$url' reload --wait >'$tmp/reload' 2>&1 || { cat '$tmp/reload'; exit 1; }"
	call_rest >"$tmp/rest" 2>&1 || true
	check "primes.count answers over REST ($build build)" has "$tmp/rest" \
		'"status": *"succeeded"' '"count": *9592'
done
stop_daemon
$SUDO rm -f "$dropin/template.so"

# ---- purge ---------------------------------------------------------------
say "purging mcpd-dev and mcpd"
purge mcpd-dev mcpd
check "no file of the packages is left" absent /usr/sbin/mcpd /usr/bin/mcpctl \
	/usr/bin/mcpd-plugin-run /etc/mcpd "/usr/lib/$arch/mcpd" /usr/include/mcpd \
	/usr/share/mcpd /usr/share/doc/mcpd /usr/share/doc/mcpd-dev \
	/lib/systemd/system/mcpd.service /var/lib/mcpd /usr/local/lib/mcpd \
	/etc/systemd/system/multi-user.target.wants/mcpd.service \
	/var/lib/systemd/deb-systemd-helper-enabled/mcpd.service.dsh-also \
	"/usr/lib/$arch/pkgconfig/mcpd-plugin.pc" "/usr/lib/$arch/cmake/mcpd"
getent passwd mcpd >/dev/null && echo "# the mcpd system user stays after purge (Debian policy); the test removes it"

# ---- rpm -------------------------------------------------------------------
say "rpm: $(basename "$rpm") $(basename "$devrpm")"
if command -v rpm >/dev/null; then
	rpm -qlp "$rpm" 2>/dev/null | tee "$tmp/rpm.files"
	echo "-- requires:"
	rpm -qp --requires "$rpm" 2>/dev/null | grep -v '^rpmlib(' | tee "$tmp/rpm.requires"
	echo "-- config files:"
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null |
		grep '^[a-z]*c' | tee "$tmp/rpm.config"
	rpm -qlp "$devrpm" 2>/dev/null >"$tmp/devrpm.files"
	echo "-- $(basename "$devrpm") requires:"
	rpm -qp --requires "$devrpm" 2>/dev/null | grep -v '^rpmlib(' | tee "$tmp/devrpm.requires"
	check "the rpm uses rpm's paths (lib64, /usr/lib/systemd)" has "$tmp/rpm.files" \
		'^/usr/lib64/mcpd/plugins/echo\.so$' '^/usr/sbin/mcpd$' '^/usr/bin/mcpctl$' \
		'^/usr/bin/mcpd-plugin-run$' '^/usr/lib/systemd/system/mcpd\.service$' \
		'^/var/lib/mcpd$' '^/usr/share/man/man8/mcpd\.8\.gz$'
	check "the config is %config(noreplace)" has "$tmp/rpm.config" '^cn /etc/mcpd/mcpd\.json$'
	check "requires come from rpm's automatic dependencies" has "$tmp/rpm.requires" \
		'^libjansson\.so\.4' '^libevent-2\.1\.so\.7' '^liblmdb\.so\.0'
	check "mcpd-devel has the SDK under lib64 and needs this exact mcpd" sh -c \
		"grep -q '^/usr/lib64/pkgconfig/mcpd-plugin.pc$' '$tmp/devrpm.files' &&
		 grep -q '^/usr/lib64/cmake/mcpd/mcpdConfig.cmake$' '$tmp/devrpm.files' &&
		 grep -Eq '^mcpd = $version-[0-9]+$' '$tmp/devrpm.requires'"
else
	echo "# rpm not installed: rpm checks skipped"
fi

echo "1..$n"
echo "# package test: $failed of $n checks failed, $(($(date +%s) - t0)) s"
[ "$failed" -eq 0 ]
