#!/bin/sh
# Rebuild the Polyvisor CPU test ROMs from their sources with GNU binutils.
#
# Usage: guests/cputest/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# For each suite NAME in SUITES, exactly:
#   as --32 -I SRC -o TMP/common.o SRC/common.S
#   as --32 -I SRC -o TMP/NAME.o SRC/NAME.S
#   ld -m elf_i386 -T SRC/cputest.ld -nostdlib --build-id=none -o TMP/NAME.elf TMP/NAME.o TMP/common.o
#   objcopy -O binary -j .rom TMP/NAME.elf OUTPUT_DIR/cputest-NAME.rom
# Deterministic (no timestamps, no build ids); each ROM is 65536 bytes, reset vector at 0xFFF0.
set -eu

SUITES="gates tasks v86 paging iobitmap cpu"

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

run as --32 -I "$src_dir" -o "$tmp_dir/common.o" "$src_dir/common.S"
for name in $SUITES; do
    [ -f "$src_dir/$name.S" ] || continue
    run as --32 -I "$src_dir" -o "$tmp_dir/$name.o" "$src_dir/$name.S"
    run ld -m elf_i386 -T "$src_dir/cputest.ld" -nostdlib --build-id=none \
        -o "$tmp_dir/$name.elf" "$tmp_dir/$name.o" "$tmp_dir/common.o"
    run objcopy -O binary -j .rom "$tmp_dir/$name.elf" "$out_dir/cputest-$name.rom"
    chmod 644 "$out_dir/cputest-$name.rom"
    size=$(wc -c < "$out_dir/cputest-$name.rom")
    if [ "$size" -ne 65536 ]; then
        echo "build.sh: $out_dir/cputest-$name.rom is $size bytes, expected 65536" >&2
        exit 1
    fi
done
