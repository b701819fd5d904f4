#!/usr/bin/env bash
# Render an hwsim HTML report with headless Chromium and save a PNG screenshot, to check by eye that
# every plot is drawn. Usage: scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
# Needs Debian's `chromium` (apt-get install chromium). Network and background services are off, so
# the page can only show what it embeds.
set -euo pipefail
html="${1:?usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]}"
out="${2:-${html%.html}.png}"
size="${3:-1280x4000}"
[ -f "$html" ] || { echo "screenshot_report: no such file: $html" >&2; exit 2; }
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
[ -n "$browser" ] || { echo "screenshot_report: chromium not found; install it with: apt-get install chromium" >&2; exit 2; }
echo "screenshot_report: rendering $html at ${size} with headless $(basename "$browser")" >&2
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
abs_html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
abs_out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --screenshot="$abs_out" \
  --window-size="${size/x/,}" "file://$abs_html" >/dev/null 2>&1
[ -s "$abs_out" ] || { echo "screenshot_report: chromium wrote no screenshot" >&2; exit 1; }
echo "$abs_out"
