#!/usr/bin/env bash
# Runs a command with Swift 6 on Linux: Debian trixie's swiftlang in a chroot (bookworm has no Swift),
# with the given host folders bind-mounted at the same paths (the repository, the native build, the
# Python environment whose ExecuTorch libraries libreusevos_c links). Needs root, like the apt installs.
#   ios_demo/tools/swift_chroot.sh install                 # debootstrap + swiftlang into $SWIFT_ROOT (idempotent)
#   ios_demo/tools/swift_chroot.sh run DIR "CMD" [BIND...]  # cd DIR && CMD inside, BIND folders visible
set -euo pipefail
ROOT=${SWIFT_ROOT:-/opt/trixie}
# Swift, and what ReuseVOSKit's Linux build links: zlib (PNG masks) and TurboJPEG (JPEG frames; ImageIO on Apple)
PACKAGES="swiftlang libc6-dev libstdc++-14-dev zlib1g-dev libturbojpeg0-dev"
case "${1:-}" in
  install)
    # the marker holds the package list once the install below has finished
    [ "$(cat "$ROOT/.reusevos-swift" 2>/dev/null)" = "$PACKAGES" ] && exit 0
    if [ -f "$ROOT/.reusevos-swift" ]; then  # an older finished install: add the missing packages only
      mount -t proc proc "$ROOT/proc"
      trap 'umount "$ROOT/proc"' EXIT
      chroot "$ROOT" bash -c "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null 2>&1"
      echo "$PACKAGES" > "$ROOT/.reusevos-swift"
      exit 0
    fi
    rm -rf "$ROOT"  # a half-finished root from an interrupted install
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; }
    mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/* 2>/dev/null | awk '{print $2}' | grep -v security | grep debian | head -1)
    debootstrap --variant=minbase trixie "$ROOT" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    mount -t proc proc "$ROOT/proc"
    trap 'umount "$ROOT/proc"' EXIT
    chroot "$ROOT" bash -c "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PACKAGES >/dev/null 2>&1"
    echo "$PACKAGES" > "$ROOT/.reusevos-swift"
    ;;
  run)
    dir=$2 cmd=$3
    shift 3
    mounted=()
    cleanup() { for ((i=${#mounted[@]}-1; i>=0; i--)); do umount "${mounted[$i]}" 2>/dev/null || true; done; }
    trap cleanup EXIT INT TERM
    mount -t proc proc "$ROOT/proc" && mounted+=("$ROOT/proc")
    for bind in "$dir" "$@"; do
      mkdir -p "$ROOT$bind"
      mount --bind "$bind" "$ROOT$bind" && mounted+=("$ROOT$bind")
    done
    chroot "$ROOT" env HOME=/root PATH=/usr/bin:/bin bash -c "cd '$dir' && $cmd"
    ;;
  *) echo "usage: swift_chroot.sh install | run DIR CMD [BIND...]" >&2; exit 2 ;;
esac
