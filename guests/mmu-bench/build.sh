#!/bin/sh
# Rebuild the MMU benchmark guest ROMs from mmubench.S with GNU binutils.
#
# Usage: guests/mmu-bench/build.sh [OUTPUT_DIR]     (default: the directory of this script)
#
# For N in 0 (mmubench-endless.rom) and 1..4 (mmubench-ctxsw/pfstorm/fork/bigws.rom):
#   as --32 --defsym WORKLOAD=N -o TMP/NAME.o mmubench.S
#   ld -m elf_i386 -T mmubench.ld -nostdlib --build-id=none -o TMP/NAME.elf TMP/NAME.o
#   objcopy -O binary -j .rom TMP/NAME.elf OUTPUT_DIR/NAME.rom
# The output is deterministic, exactly 65536 bytes each, reset vector at offset 0xFFF0.
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

build() {
    name=$1
    n=$2
    run as --32 --defsym WORKLOAD="$n" -o "$tmp_dir/$name.o" "$src_dir/mmubench.S"
    run ld -m elf_i386 -T "$src_dir/mmubench.ld" -nostdlib --build-id=none \
        -o "$tmp_dir/$name.elf" "$tmp_dir/$name.o"
    run objcopy -O binary -j .rom "$tmp_dir/$name.elf" "$out_dir/$name.rom"
    chmod 644 "$out_dir/$name.rom"
    size=$(wc -c < "$out_dir/$name.rom")
    if [ "$size" -ne 65536 ]; then
        echo "build.sh: $out_dir/$name.rom is $size bytes, expected 65536" >&2
        exit 1
    fi
}

build mmubench-endless 0
build mmubench-ctxsw 1
build mmubench-pfstorm 2
build mmubench-fork 3
build mmubench-bigws 4
