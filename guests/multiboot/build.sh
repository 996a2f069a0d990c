#!/bin/sh
# Builds the Multiboot test kernels into OUT (default: this folder, where they are committed):
#   mbtest.elf  ELF kernel (loaded by program headers)
#   mbtest.aout flat binary with the a.out-kludge header fields (Multiboot header flag 16)
# Needs gcc with -m32 and GNU binutils; nothing else (no libc).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
CFLAGS="-m32 -march=i386 -mgeneral-regs-only -ffreestanding -fno-pic -fno-pie -fno-stack-protector
        -fno-asynchronous-unwind-tables -fno-builtin -nostdlib -O2 -Wall -Wno-main"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for variant in elf aout; do
    defs="-DNAME=\"mbtest.$variant\""
    [ "$variant" = aout ] && defs="$defs -DAOUT"
    gcc $CFLAGS $defs -c "$here/start.S" -o "$tmp/start-$variant.o"
    gcc $CFLAGS $defs -c "$here/mbtest.c" -o "$tmp/mbtest-$variant.o"
    ld -m elf_i386 -nostdlib --build-id=none -z noexecstack --no-warn-rwx-segments -T "$here/kernel.ld" \
        -o "$tmp/mbtest-$variant.elf" "$tmp/start-$variant.o" "$tmp/mbtest-$variant.o"
done
cp "$tmp/mbtest-elf.elf" "$out/mbtest.elf"
objcopy -O binary "$tmp/mbtest-aout.elf" "$out/mbtest.aout"
ls -l "$out/mbtest.elf" "$out/mbtest.aout"
