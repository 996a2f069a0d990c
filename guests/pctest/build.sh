#!/bin/sh
# Builds the PC test kernels (Multiboot ELF) into OUT (default: this folder, where they are
# committed): rtc.elf, lapic.elf, ioapic.elf, ipi.elf. Each is start.S + lib.c + its test.
# Needs gcc with -m32 and GNU binutils; nothing else (no libc, no libgcc). Deterministic.
set -eu
TESTS="rtc lapic ioapic ipi"
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
CFLAGS="-m32 -march=i686 -mgeneral-regs-only -ffreestanding -fno-pic -fno-pie -fno-stack-protector
        -fno-asynchronous-unwind-tables -fno-builtin -nostdlib -O2 -Wall -Wno-main"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc $CFLAGS -c "$here/start.S" -o "$tmp/start.o"
gcc $CFLAGS -c "$here/lib.c" -o "$tmp/lib.o"
for t in $TESTS; do
    gcc $CFLAGS -c "$here/$t.c" -o "$tmp/$t.o"
    ld -m elf_i386 -nostdlib --build-id=none -z noexecstack --no-warn-rwx-segments -T "$here/kernel.ld" \
        -o "$out/$t.elf" "$tmp/start.o" "$tmp/lib.o" "$tmp/$t.o"
    chmod 644 "$out/$t.elf"
done
ls -l "$out"/*.elf
