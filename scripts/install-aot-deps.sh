#!/usr/bin/env bash
# NativeAOT prerequisites for ./build.sh aot (dist/engine-cpu), per https://aka.ms/nativeaot-prerequisites:
# a C compiler as linker driver (clang, or a versioned clang-N; the SDK falls back to gcc itself), zlib1g-dev, and a
# symbol stripper (llvm-objcopy or binutils' objcopy).
#   scripts/install-aot-deps.sh          install what is missing with apt-get (as root, or through sudo -n); idempotent:
#                                        apt-get runs only when a package is missing
#   scripts/install-aot-deps.sh --check  install nothing: exit 3 and print the apt-get command when something is missing
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
have_versioned_clang() { compgen -c clang- | grep -Eq '^clang-[0-9]+$'; }

missing=()
if ! have clang && ! have_versioned_clang && ! have gcc; then missing+=(clang); fi
if ! dpkg-query -W -f='${Status}' zlib1g-dev 2>/dev/null | grep -q "install ok installed" && [ ! -f /usr/include/zlib.h ]; then
  missing+=(zlib1g-dev)
fi
if ! have objcopy && ! have llvm-objcopy; then missing+=(binutils); fi

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

. "$(dirname "$0")/apt-install.sh"
apt_install "NativeAOT prerequisites" "${1:-}" "${missing[@]}"
