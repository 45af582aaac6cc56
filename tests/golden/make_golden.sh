#!/usr/bin/env bash
# Regenerates every golden fixture with PyTorch (Debian: apt-get install python3-torch).
set -euo pipefail
cd "$(dirname "$0")"
for g in gen_*.py; do
  echo "running $g"
  /usr/bin/python3 "$g"
done
