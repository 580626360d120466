#!/usr/bin/env bash
# Download the upstream CRDs / JSON schemas listed in deps/upstream.yaml into a
# directory laid out like ../shared (DEST/crds/..., DEST/schemas/...).
#
#   hack/fetch-deps.sh deps/upstream.yaml .cache/upstream
#
# Used by `make deps` only when $(SHARED)/crds does not exist. Files already
# present with the right size (and sha256, when the manifest gives one) are
# kept. Needs curl and network access to raw.githubusercontent.com.
# NOTE: untested here (GitHub is unreachable from the development machine).
set -euo pipefail

manifest=${1:?usage: fetch-deps.sh MANIFEST DEST}
dest=${2:?usage: fetch-deps.sh MANIFEST DEST}

# The manifest is generated YAML with one "key: value" per line and one
# "- name:" line starting each entry; parse the four fields we need.
entries=$(awk '
  function flush() { if (url != "") print url "\t" file "\t" bytes "\t" (sha == "" ? "-" : sha); url = file = bytes = sha = "" }
  /^- name:/            { flush() }
  /^  url: /            { url = $2 }
  /^  file: /           { file = $2 }
  /^  bytes: /          { bytes = $2 }
  /^  sha256: /         { sha = $2 }
  END                   { flush() }
' "$manifest")

check() { # file bytes sha256|-
  [[ -f $1 ]] || return 1
  [[ $(wc -c < "$1") -eq $2 ]] || return 1
  [[ $3 == - ]] || [[ $(sha256sum "$1" | cut -d' ' -f1) == "$3" ]] || return 1
}

n=0 fetched=0
while IFS=$'\t' read -r url file bytes sha; do
  n=$((n + 1))
  out="$dest/$file"
  if check "$out" "$bytes" "$sha"; then
    continue
  fi
  mkdir -p "$(dirname "$out")"
  echo "deps: $url"
  curl -fsSL --retry 3 --retry-delay 2 -o "$out.tmp" "$url"
  if ! check "$out.tmp" "$bytes" "$sha"; then
    echo "deps: $url: size/sha256 mismatch (want $bytes bytes, sha256 $sha)" >&2
    rm -f "$out.tmp"
    exit 1
  fi
  mv -f "$out.tmp" "$out"
  fetched=$((fetched + 1))
done <<< "$entries"

echo "deps: $n files in $dest ($fetched downloaded)"
