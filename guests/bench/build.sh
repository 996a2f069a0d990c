#!/bin/sh
# Rebuild the Polyvisor benchmark guest ROMs from bench.S with GNU binutils.
#
# Usage: guests/bench/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# Exact commands, for each variant (bench-loop: KERNEL=1, bench-mix: 2, bench-copy: 3,
# bench-call: 4, bench-intp: 5, bench-page: 6, bench-trap: 7):
#   as --32 --defsym KERNEL=K -o TMP/NAME.o bench.S
#   ld -m elf_i386 -T bench.ld -nostdlib --build-id=none -o TMP/NAME.elf TMP/NAME.o
#   objcopy -O binary -j .rom TMP/NAME.elf OUTPUT_DIR/NAME.rom
# Each command is also printed as it runs. The output is deterministic (no timestamps,
# no build ids), exactly 65536 bytes, with the reset vector at offset 0xFFF0.
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

# build NAME [as options...]
build() {
    name=$1
    shift
    run as --32 "$@" -o "$tmp_dir/$name.o" "$src_dir/bench.S"
    run ld -m elf_i386 -T "$src_dir/bench.ld" -nostdlib --build-id=none \
        -o "$tmp_dir/$name.elf" "$tmp_dir/$name.o"
    run objcopy -O binary -j .rom "$tmp_dir/$name.elf" "$out_dir/$name.rom"
    chmod 644 "$out_dir/$name.rom"
    size=$(wc -c < "$out_dir/$name.rom")
    if [ "$size" -ne 65536 ]; then
        echo "build.sh: $out_dir/$name.rom is $size bytes, expected 65536" >&2
        exit 1
    fi
}

build bench-loop --defsym KERNEL=1
build bench-mix --defsym KERNEL=2
build bench-copy --defsym KERNEL=3
build bench-call --defsym KERNEL=4
build bench-intp --defsym KERNEL=5
build bench-page --defsym KERNEL=6
build bench-trap --defsym KERNEL=7
