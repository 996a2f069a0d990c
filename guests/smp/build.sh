#!/bin/sh
# Rebuild the Polyvisor SMP test ROM from its source with GNU binutils.
#
# Usage: guests/smp/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# Exactly:
#   as --32 -o TMP/smp.o SRC/smp.S
#   ld -m elf_i386 -T SRC/smp.ld -nostdlib --build-id=none -o TMP/smp.elf TMP/smp.o
#   objcopy -O binary -j .rom TMP/smp.elf OUTPUT_DIR/smp-initsipi.rom
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

run as --32 -o "$tmp_dir/smp.o" "$src_dir/smp.S"
run ld -m elf_i386 -T "$src_dir/smp.ld" -nostdlib --build-id=none -o "$tmp_dir/smp.elf" "$tmp_dir/smp.o"
run objcopy -O binary -j .rom "$tmp_dir/smp.elf" "$out_dir/smp-initsipi.rom"
chmod 644 "$out_dir/smp-initsipi.rom"
size=$(wc -c < "$out_dir/smp-initsipi.rom")
if [ "$size" -ne 65536 ]; then
    echo "build.sh: $out_dir/smp-initsipi.rom is $size bytes, expected 65536" >&2
    exit 1
fi
