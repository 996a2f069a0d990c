#!/bin/sh
# Rebuild the Polyvisor A20 test ROM from its source with GNU binutils.
#
# Usage: guests/a20/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# Exactly:
#   as --32 -o TMP/a20.o SRC/a20.S
#   ld -m elf_i386 -T SRC/a20.ld -nostdlib --build-id=none -o TMP/a20.elf TMP/a20.o
#   objcopy -O binary -j .rom TMP/a20.elf OUTPUT_DIR/a20-gate.rom
# Deterministic (no timestamps, no build ids); the ROM is 65536 bytes, reset vector at 0xFFF0.
set -eu

src_dir=$(cd "$(dirname "$0")" && pwd)
out_dir=${1:-$src_dir}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
tmp_dir=$(mktemp -d)
trap 'rm -rf "$tmp_dir"' EXIT INT TERM

run() {
    echo "+ $*"
    "$@"
}

run as --32 -o "$tmp_dir/a20.o" "$src_dir/a20.S"
run ld -m elf_i386 -T "$src_dir/a20.ld" -nostdlib --build-id=none -o "$tmp_dir/a20.elf" "$tmp_dir/a20.o"
run objcopy -O binary -j .rom "$tmp_dir/a20.elf" "$out_dir/a20-gate.rom"
chmod 644 "$out_dir/a20-gate.rom"
size=$(wc -c < "$out_dir/a20-gate.rom")
if [ "$size" -ne 65536 ]; then
    echo "build.sh: $out_dir/a20-gate.rom is $size bytes, expected 65536" >&2
    exit 1
fi
