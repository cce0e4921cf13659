#!/usr/bin/env bash
# noded's footprint beside Swift programs built in the same run, with the same toolchain and
# flags: the binary (stripped; the dynamic build the Makefile makes, and a static one with
# --static-swift-stdlib) and resident memory when idle (an empty store, ready, 2 s after start).
#
# The references say what the runtime alone costs: a program using only the standard library,
# one using FoundationEssentials (JSON, Date), and one formatting one price with Foundation's
# NumberFormatter, which links ICU and its data as noded does for shoppers' prices and for
# folding diacritics in search (docs/memory.md, "The binary and idle memory").
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/outpost-footprint-bench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# name, imports, body
reference() {
  mkdir -p "$work/$1/Sources/$1"
  printf '// swift-tools-version:6.0\nimport PackageDescription\nlet package = Package(name: "%s", targets: [.executableTarget(name: "%s")])\n' "$1" "$1" >"$work/$1/Package.swift"
  printf '%s\nimport Glibc\n%s\nlet line = "ready \\(shown)\\n"\n_ = line.withCString { write(1, $0, strlen($0)) }\npause()\n' "$2" "$3" >"$work/$1/Sources/$1/main.swift"
  (cd "$work/$1" && swift build -c release --static-swift-stdlib >/dev/null 2>&1)
  strip -o "$work/$1.bin" "$work/$1/.build/release/$1"
}
reference stdlib "" 'let shown = [1, 2, 3].map { $0 * 2 }'
reference essentials "import FoundationEssentials" 'let shown = String(decoding: try JSONEncoder().encode(["at": Date.now.timeIntervalSince1970]), as: UTF8.self)'
reference icu "import Foundation" 'let f = NumberFormatter(); f.locale = Locale(identifier: "de_DE"); f.numberStyle = .currency; f.currencyCode = "EUR"
let shown = f.string(from: 12.99 as NSNumber) ?? ""'

swift build -c release --product noded >/dev/null
swift build -c release --product noded --static-swift-stdlib --scratch-path .build/static >/dev/null 2>&1
strip -o "$work/noded.bin" .build/release/noded
strip -o "$work/noded-static.bin" .build/static/release/noded

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# A reference program: resident once it printed "ready".
idle_reference() {
  local out="$work/$1.out" pid
  "$work/$1.bin" >"$out" &
  pid=$!
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  sleep 0.5
  rss_mib "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

# noded on an empty store: resident 2 s after /readyz answered.
idle_noded() {
  local data="$work/data-$1" pid
  mkdir -p "$data"
  printf '[node]\nid = "idle"\nregion = "eu"\n' >"$work/idle.toml"
  "$work/$1.bin" --config "$work/idle.toml" --data-dir "$data" --listen 127.0.0.1:0 2>"$data.log" &
  pid=$!
  until [ -s "$data/node.address" ] && curl -sf -o /dev/null "$(cat "$data/node.address")/readyz"; do sleep 0.05; done
  sleep 2
  rss_mib "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

size_mb() { stat -c %s "$1" | awk '{printf "%.1f", $1 / 1e6}'; }

echo
echo "| footprint (stripped binaries, same toolchain and run) | binary MB | idle RSS MiB |"
echo "|---|---|---|"
echo "| noded, dynamic (libswiftCore, Foundation, ICU as shared libraries) | $(size_mb "$work/noded.bin") | $(idle_noded noded) |"
echo "| noded, static Swift runtime (--static-swift-stdlib) | $(size_mb "$work/noded-static.bin") | $(idle_noded noded-static) |"
echo "| reference: standard library only, static | $(size_mb "$work/stdlib.bin") | $(idle_reference stdlib) |"
echo "| reference: FoundationEssentials (JSON, Date), static | $(size_mb "$work/essentials.bin") | $(idle_reference essentials) |"
echo "| reference: one price through Foundation's NumberFormatter (ICU), static | $(size_mb "$work/icu.bin") | $(idle_reference icu) |"
echo "| the target (issue 29) | < 25 static | < 20 |"
