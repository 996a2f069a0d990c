#!/bin/sh
# Rebuild the Polyvisor platform test ROMs (device tests) from their sources with GNU binutils.
# They link with the CPU test kernels' boot stub and runner (../cputest/common.S, cputest.ld).
#
# Usage: guests/platform/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# For each suite NAME in SUITES, exactly:
#   as --32 -I CPUTEST -o TMP/common.o CPUTEST/common.S
#   as --32 -I CPUTEST -I SRC -o TMP/NAME.o SRC/NAME.S
#   ld -m elf_i386 -T CPUTEST/cputest.ld -nostdlib --build-id=none -o TMP/NAME.elf TMP/NAME.o TMP/common.o
#   objcopy -O binary -j .rom TMP/NAME.elf OUTPUT_DIR/platform-NAME.rom
# Deterministic (no timestamps, no build ids); each ROM is 65536 bytes, reset vector at 0xFFF0.
set -eu

SUITES="virtio pic"

src_dir=$(cd "$(dirname "$0")" && pwd)
cpu_dir=$(cd "$src_dir/../cputest" && pwd)
out_dir=${1:-$src_dir}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
tmp_dir=$(mktemp -d)
trap 'rm -rf "$tmp_dir"' EXIT INT TERM

run() {
    echo "+ $*"
    "$@"
}

run as --32 -I "$cpu_dir" -o "$tmp_dir/common.o" "$cpu_dir/common.S"
for name in $SUITES; do
    run as --32 -I "$cpu_dir" -I "$src_dir" -o "$tmp_dir/$name.o" "$src_dir/$name.S"
    run ld -m elf_i386 -T "$cpu_dir/cputest.ld" -nostdlib --build-id=none \
        -o "$tmp_dir/$name.elf" "$tmp_dir/$name.o" "$tmp_dir/common.o"
    run objcopy -O binary -j .rom "$tmp_dir/$name.elf" "$out_dir/platform-$name.rom"
    chmod 644 "$out_dir/platform-$name.rom"
    size=$(wc -c < "$out_dir/platform-$name.rom")
    if [ "$size" -ne 65536 ]; then
        echo "build.sh: $out_dir/platform-$name.rom is $size bytes, expected 65536" >&2
        exit 1
    fi
done
