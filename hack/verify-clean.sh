#!/usr/bin/env bash
# Fails when the generated files (CRDs, RBAC, webhook manifests, DeepCopy,
# the OLM bundle) differ from what is committed, after `make manifests
# generate bundle` has rebuilt them.
set -euo pipefail

generated=(config api bundle bundle.Dockerfile)
existing=()
for path in "${generated[@]}"; do
	[ -e "$path" ] && existing+=("$path")
done
changes=$(git status --porcelain --untracked-files=all -- "${existing[@]}")
if [ -n "$changes" ]; then
	echo "Generated files are out of date; run 'make manifests generate bundle' and commit the result:" >&2
	echo "$changes" >&2
	git --no-pager diff --stat -- "${existing[@]}" >&2
	exit 1
fi
