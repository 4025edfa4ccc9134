#!/usr/bin/env bash
# Open MPI for CPU ranks (engine train --nproc-per-node N on the CPU, mpirun -np N engine ...): mpirun (openmpi-bin)
# and libmpi.so.40, which the engine loads at run time (libopenmpi3, pulled in by libopenmpi-dev). Debian/Ubuntu packages.
#   scripts/install-mpi.sh          install what is missing with apt-get (as root, or through sudo -n); idempotent:
#                                   apt-get runs only when something is missing
#   scripts/install-mpi.sh --check  install nothing: exit 3 and print the apt-get command when something is missing
# ENGINE_MPIRUN and ENGINE_MPI_LIBRARY name another mpirun and libmpi; when set, they are checked instead.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
have_libmpi() {
  if [ -n "${ENGINE_MPI_LIBRARY:-}" ]; then [ -e "$ENGINE_MPI_LIBRARY" ] || ldconfig -p 2>/dev/null | grep -q "${ENGINE_MPI_LIBRARY} "; return; fi
  ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40 ' || compgen -G '/usr/lib/*/libmpi.so.40' >/dev/null || [ -e /usr/lib/libmpi.so.40 ]
}

missing=()
if [ -n "${ENGINE_MPIRUN:-}" ]; then [ -x "$ENGINE_MPIRUN" ] || missing+=(openmpi-bin); elif ! have mpirun; then missing+=(openmpi-bin); fi
if ! have_libmpi; then missing+=(libopenmpi-dev); fi

if [ ${#missing[@]} -eq 0 ]; then echo "Open MPI present: $(command -v mpirun || echo "$ENGINE_MPIRUN")" >&2; exit 0; fi

install="apt-get update && apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev"
if [ "${1:-}" = "--check" ]; then
  echo "Open MPI missing (${missing[*]}). Install it with: sudo sh -c '$install' (or run scripts/install-mpi.sh as root)" >&2
  exit 3
fi

if [ "$(id -u)" -eq 0 ]; then sudo=""
elif have sudo && sudo -n true 2>/dev/null; then sudo="sudo -n"
else
  echo "Open MPI missing (${missing[*]}), and this user cannot install it. Run: sudo sh -c '$install'" >&2
  exit 3
fi
if ! have apt-get; then
  echo "Open MPI missing (${missing[*]}) and there is no apt-get here: install Open MPI 4.x (mpirun and libmpi.so.40) with this system's package manager" >&2
  exit 3
fi
echo "installing Open MPI: openmpi-bin libopenmpi-dev" >&2
if ! { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends openmpi-bin libopenmpi-dev; } >&2; then
  echo "could not install Open MPI. Run: sudo sh -c '$install'" >&2
  exit 3
fi
echo "installed Open MPI: $(command -v mpirun)" >&2
