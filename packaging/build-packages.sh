#!/bin/sh
# Builds the .deb and .rpm packages from the source tree, each in a fresh
# build directory, and copies them to OUTDIR (default build-pkg/out):
#   packaging/build-packages.sh [--deb-only|--rpm-only] [OUTDIR]
# Needs cmake, a C compiler, the -dev libraries of ./dev's BUILD_DEPS,
# dpkg-dev (dpkg-shlibdeps) for the .deb and rpm (rpmbuild) for the .rpm.
# Compiler flags are Debian's hardening defaults (dpkg-buildflags) when
# available; CFLAGS, CPPFLAGS and LDFLAGS from the environment win.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
formats="DEB RPM"
case "${1:-}" in
--deb-only) formats=DEB; shift ;;
--rpm-only) formats=RPM; shift ;;
esac
out=${1:-$src/build-pkg/out}
jobs=$(nproc 2>/dev/null || echo 2)

if command -v dpkg-buildflags >/dev/null; then
	export DEB_BUILD_MAINT_OPTIONS="${DEB_BUILD_MAINT_OPTIONS:-hardening=+all}"
	: "${CFLAGS:=$(dpkg-buildflags --get CFLAGS)}"
	: "${CPPFLAGS:=$(dpkg-buildflags --get CPPFLAGS)}"
	: "${LDFLAGS:=$(dpkg-buildflags --get LDFLAGS)}"
	export CFLAGS="$CFLAGS $CPPFLAGS" LDFLAGS
fi
# Reproducible: the changelog date and file times come from the last commit.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
	export SOURCE_DATE_EPOCH
fi

mkdir -p "$out" "$src/build-pkg"
for fmt in $formats; do
	lower=$(echo "$fmt" | tr A-Z a-z)
	dir=$src/build-pkg/$lower
	rm -rf "$dir"
	echo "==> configuring $dir ($fmt layout)"
	cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=None \
		-DCMAKE_INSTALL_PREFIX=/usr -DMCPD_PACKAGE_FORMAT="$fmt" \
		-DMCPD_TESTS=OFF -DMCPD_BENCH=OFF >"$dir.log" 2>&1 ||
		{ cat "$dir.log"; exit 1; }
	echo "==> building $dir"
	cmake --build "$dir" -j"$jobs" >>"$dir.log" 2>&1 ||
		{ tail -40 "$dir.log"; exit 1; }
	echo "==> cpack -G $fmt"
	(cd "$dir" && cpack -G "$fmt") >>"$dir.log" 2>&1 ||
		{ tail -40 "$dir.log"; exit 1; }
	for f in "$dir"/packages/*."$lower"; do
		cp "$f" "$out/"
		echo "    $out/$(basename "$f")"
	done
done
