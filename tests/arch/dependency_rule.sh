#!/usr/bin/env bash
# The dependency rule of docs/ARCHITECTURE.md, checked on the sources: every
# `#include "vmbus/<component>/..."` of a component must name the component
# itself or one it may depend on. Prints every breach as FILE:LINE: and the
# include, and exits 1 if there is any.
#   tests/arch/dependency_rule.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

# folder -> component name (its include prefix) and what it may include.
# "proto" is the protobuf schemas (vmbus/proto/*.pb.h); scenario.pb.h is
# checked separately below.
rules=(
  "sim/base        base        "
  "sim/ring        ring        base"
  "proto/wire      wire        base"
  "sim/shm         shm         base ring"
  "sim/ipc         ipc         base proto"
  "sim/trace       trace       base wire proto"
  "sim/kmcl        kmcl        base ring"
  "sim/partition   partition   base ring wire shm ipc trace kmcl proto"
  "host            host        base ring wire shm ipc trace kmcl partition proto"
  "guest           guest       base ring wire shm ipc trace kmcl partition proto"
  "sim/hypervisor  hypervisor  base ring wire shm ipc trace proto"
  "sim/runner      runner      base ring wire shm ipc trace kmcl hypervisor proto"
  "sim/cli         cli         base ring wire shm ipc trace kmcl hypervisor runner proto"
  "sim/app         app         cli"
)
# Only the scenario engine and the command line know the scenario language.
scenario_schema_allowed="sim/runner sim/cli"

breaches=0
for rule in "${rules[@]}"; do
  read -r folder self allowed <<<"$rule"
  [ -d "$folder" ] || { echo "dependency_rule: no folder $folder" >&2; exit 2; }
  while IFS=: read -r file line text; do
    [[ "$text" =~ \"vmbus/([a-z_]+)/ ]] && component=${BASH_REMATCH[1]}
    ok=0
    for name in "$self" $allowed; do
      [ "$component" = "$name" ] && ok=1
    done
    if [ $ok -eq 0 ]; then
      echo "$file:$line: $self may not include $component: $text"
      breaches=$((breaches + 1))
    fi
    if [[ "$text" == *'vmbus/proto/scenario.pb.h'* ]] && [[ " $scenario_schema_allowed " != *" $folder "* ]]; then
      echo "$file:$line: only the scenario engine includes the scenario schema: $text"
      breaches=$((breaches + 1))
    fi
  done < <(grep -rnE '^#include "vmbus/[a-z_]+/' "$folder" --include='*.h' --include='*.cc' || true)
done
if [ $breaches -ne 0 ]; then
  echo "dependency_rule: $breaches include(s) break the rule (docs/ARCHITECTURE.md)"
  exit 1
fi
echo "dependency_rule: every include follows the rule"
