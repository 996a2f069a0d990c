#!/bin/sh
# Assembles bios-stub.S and prints its bytes as the hex string BiosStub.CODE holds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(mktemp -d)}
as --32 -o "$out/bios-stub.o" "$here/bios-stub.S"
ld -m elf_i386 -Ttext=0 --oformat=binary -o "$out/bios-stub.bin" "$out/bios-stub.o"
od -An -v -tx1 "$out/bios-stub.bin" | tr -d ' \n'
echo
