#!/usr/bin/env bash
# Sign and verify throughput (256 B, 1 MiB) beside `openssl dgst -sha256 -hmac` on the same payload.
# Builds with the release profile; run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v openssl >/dev/null || echo "openssl is not installed: its rows are skipped" >&2
cargo bench --quiet --bench sign_verify
