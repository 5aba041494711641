#!/usr/bin/env bash
# chatops.run_job: create one Kubernetes job. Every value stays one argument: nothing here is evaluated by a
# shell (no eval, no unquoted expansion of the values), and the arguments go to kubectl through exec.
set -euo pipefail
kubectl_line=$1 namespace=$2 image=$3 name=$4 packed=${5-}
read -r -a kubectl <<<"$kubectl_line"  # the configured program plus fixed options (from the pack config)
if ((${#kubectl[@]} == 0)); then
  echo "chatops: kubectl_command is empty in the chatops pack config" >&2
  exit 2
fi
args=()
if [[ -n $packed ]]; then
  separator=$'\x1f'
  rest=$packed
  while [[ $rest == *"$separator"* ]]; do
    args+=("${rest%%"$separator"*}")
    rest=${rest#*"$separator"}
  done
  args+=("$rest")
fi
exec "${kubectl[@]}" create job "$name" --namespace="$namespace" --image="$image" -- "${args[@]}"
