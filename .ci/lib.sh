# What the CI scripts share, sourced from the repository's root
# (`. .ci/lib.sh` after the script's `cd`).

# Prints the heading of a step.
step() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages given (none: does nothing) without prompting,
# with sudo when not root.
apt_install() {
  (($#)) || return 0
  step "apt-get install $*"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
