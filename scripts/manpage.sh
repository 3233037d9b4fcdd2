#!/usr/bin/env bash
# Writes chordnode's man page (OUT) from its own --help, with a section per command, by help2man.
# Used by the build (CMake target chordnode_docs) when help2man is installed.
set -euo pipefail
bin=$1
out=$2
extra=$(mktemp)
trap 'rm -f "$extra"' EXIT
{
  echo "[COMMANDS]"
  # Every command the binary lists, in its order.
  for cmd in $("$bin" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
    echo ".SS $cmd"
    echo ".nf"
    "$bin" "$cmd" --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
    echo ".fi"
  done
  echo "[FILES]"
  echo "/etc/chordnode/*.toml: one config per node instance (chordnode@NAME.service reads NAME.toml); example.toml lists every option."
  echo ".br"
  echo "/var/lib/chordnode/NAME: the data dir of instance NAME."
} > "$extra"
help2man --no-info --section 1 --name "a Chord distributed hash table node and its client" \
  --include "$extra" --output "$out" "$bin"
