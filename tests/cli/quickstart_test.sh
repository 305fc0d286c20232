#!/usr/bin/env bash
# The quick-start build registers only tests it builds: configured as
# scripts/quickstart.sh configures a new build directory, `ctest` lists the
# scenario library (a test and an opt-in sweep per file; a regression
# scenario has both twice, with and without its quirks; and the opt-in
# mutation proof) and no
# *_NOT_BUILT placeholder of a test suite that was never built; and a
# folder's label selects that folder's tests, not the sweeps.
#   tests/cli/quickstart_test.sh REPO_ROOT
set -euo pipefail
root=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

VMBUS_BUILD_DIR="$scratch/build" "$root/scripts/quickstart.sh" --configure-only >/dev/null
listing=$(ctest --test-dir "$scratch/build" -N)
if grep -q NOT_BUILT <<<"$listing"; then
  echo "quickstart_test: the quick-start build lists tests it does not build:"
  grep NOT_BUILT <<<"$listing"
  exit 1
fi
files=$(find "$root/scenarios" -name '*.textproto' | wc -l)
regressions=$(find "$root/scenarios/regressions" -name '*.textproto' 2>/dev/null | wc -l)
wanted=$((2 * files + 2 * regressions + 1))
tests=$(grep -c 'Test *#' <<<"$listing" || true)
scenario_tests=$(grep -cE 'Test *#[0-9]+: (scenario|sweep|mutation)/' <<<"$listing" || true)
if [ "$tests" -ne "$wanted" ] || [ "$scenario_tests" -ne "$tests" ]; then
  echo "quickstart_test: expected $wanted scenario, sweep and mutation tests, got $tests:"
  echo "$listing"
  exit 1
fi
for folder in $(cd "$root/scenarios" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n'); do
  selected=$(ctest --test-dir "$scratch/build" -N -L "$folder" | grep -E 'Test *#' || true)
  expected=$(find "$root/scenarios/$folder" -name '*.textproto' | wc -l)
  if [ "$folder" = regressions ]; then
    expected=$((2 * expected))  # with and without the quirks
  fi
  if [ "$(grep -c . <<<"$selected")" -ne "$expected" ] || grep -qv "scenario/$folder/" <<<"$selected"; then
    echo "quickstart_test: ctest -L $folder should select the $expected tests of scenarios/$folder:"
    echo "$selected"
    exit 1
  fi
done
echo "quickstart_test: $tests tests, all of the scenario library; each folder's label selects it"
