#!/usr/bin/env bash
# Load a mounted Xilinx installation (its settings64.sh) when XILINX_SETTINGS names one, then run l1tag.
set -e
if [ -n "${XILINX_SETTINGS:-}" ]; then
  if [ -f "$XILINX_SETTINGS" ]; then
    # shellcheck disable=SC1090
    source "$XILINX_SETTINGS"
  else
    echo "l1tag-entrypoint: XILINX_SETTINGS=$XILINX_SETTINGS is not a file; is the installation mounted?" >&2
    exit 2
  fi
fi
exec l1tag "$@"
