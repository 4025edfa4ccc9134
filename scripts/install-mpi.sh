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

. "$(dirname "$0")/apt-install.sh"
apt_install "Open MPI" "${1:-}" openmpi-bin libopenmpi-dev
echo "installed Open MPI: $(command -v mpirun)" >&2
