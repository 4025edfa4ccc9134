# Sourced by the install-*.sh scripts: apt_install WHAT MODE PACKAGE... installs the missing Debian/Ubuntu packages
# with apt-get (as root, or through sudo -n), or with MODE --check only says how and exits 3. Exits 3 when it cannot.
apt_install() {
  local what=$1 mode=$2; shift 2
  local install="apt-get update && apt-get install -y --no-install-recommends $*"
  if [ "$mode" = "--check" ]; then
    echo "$what missing: $*. Install with: sudo sh -c '$install' (or run $0 as root)" >&2
    exit 3
  fi
  local sudo
  if [ "$(id -u)" -eq 0 ]; then sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"
  else
    echo "$what missing: $*, and this user cannot install them. Run: sudo sh -c '$install'" >&2
    exit 3
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$what missing: $*, and there is no apt-get here: install them with this system's package manager" >&2
    exit 3
  fi
  echo "installing $what: $*" >&2
  if ! { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"; } >&2; then
    echo "could not install $what ($*). Run: sudo sh -c '$install'" >&2
    exit 3
  fi
}
