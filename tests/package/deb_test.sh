#!/usr/bin/env bash
# The Debian package, proved from the outside: `cpack -G DEB` on this build,
# `dpkg -x` into a scratch root (no root rights, nothing installed on the
# machine), then the unpacked vmbus-sim prints the project's version and
# runs a library scenario with the vmbus-host and vmbus-guest unpacked next
# to it.
#   tests/package/deb_test.sh BUILD_DIR SCENARIO VERSION
set -euo pipefail
build=$1 scenario=$2 version=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; exit 1; }
deb=$(ls "$work"/out/vmbus-sim_*.deb)
echo "built $(basename "$deb")"
dpkg-deb --info "$deb" | grep -E "Package|Version|Depends"
dpkg -x "$deb" "$work/root"
for f in usr/bin/vmbus-sim usr/bin/vmbus-host usr/bin/vmbus-guest \
         usr/include/vmbus-sim/km/vmbuskernelmodeclientlibapi.h; do
  [ -e "$work/root/$f" ] || { echo "the package lacks /$f" >&2; exit 1; }
done
ls "$work"/root/usr/lib*/cmake/vmbus-sim/vmbus-simConfig.cmake >/dev/null 2>&1 ||
  find "$work/root" -name vmbus-simConfig.cmake | grep -q . ||
  { echo "the package lacks the CMake package" >&2; exit 1; }
"$work/root/usr/bin/vmbus-sim" --version | grep -q " $version " ||
  { echo "unpacked vmbus-sim does not say version $version" >&2; exit 1; }
"$work/root/usr/bin/vmbus-sim" run "$scenario" --seed 1
