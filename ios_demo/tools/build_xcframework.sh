#!/usr/bin/env bash
# Builds the native tracker core's C API (../../native, libreusevos_c + libreusevos_core, static) for iPhone,
# the iOS simulator and macOS, and packs it as ReuseVOSKit/CReuseVOS.xcframework with the C header and a
# module map naming the module CReuseVOS (what ReuseVOSKit imports). On a Mac with Xcode 16 and CMake >= 3.28:
#   ios_demo/tools/build_xcframework.sh            # then open ios_demo/ReuseVOSDemo (xcodegen) or swift build
# The core is built without ExecuTorch (REUSEVOS_EXECUTORCH=OFF): on Apple platforms the subgraphs run in
# Core ML (CoreMLRunner). NOT run in this repository's CI (no Mac there); see ../README.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
NATIVE=$(cd "$HERE/../native" && pwd)
WORK=${WORK:-$HERE/.xcframework-build}
OUT=$HERE/ReuseVOSKit/CReuseVOS.xcframework
command -v xcodebuild >/dev/null || { echo "build_xcframework.sh: needs Xcode (xcodebuild) on a Mac" >&2; exit 1; }
rm -rf "$WORK" && mkdir -p "$WORK/headers"
trap 'rm -rf "$WORK"' EXIT

# slice NAME SYSROOT ARCHS [DEPLOYMENT]: one static library holding the C API and the core
slice() {
  local name=$1 sysroot=$2 archs=$3 system=$4 target=$5
  cmake -S "$NATIVE" -B "$WORK/$name" -G Xcode -DCMAKE_SYSTEM_NAME="$system" -DCMAKE_OSX_SYSROOT="$sysroot" \
    -DCMAKE_OSX_ARCHITECTURES="$archs" -DCMAKE_OSX_DEPLOYMENT_TARGET="$target" \
    -DREUSEVOS_EXECUTORCH=OFF -DREUSEVOS_C_STATIC=ON >/dev/null
  cmake --build "$WORK/$name" --config Release --target reusevos_c reusevos_core -- -quiet
  libtool -static -o "$WORK/$name/libCReuseVOS.a" \
    "$(find "$WORK/$name" -name libreusevos_c.a | head -1)" "$(find "$WORK/$name" -name libreusevos_core.a | head -1)"
}
slice ios iphoneos arm64 iOS 17.0
slice sim iphonesimulator "arm64;x86_64" iOS 17.0
slice mac macosx "arm64;x86_64" Darwin 14.0

cp "$NATIVE/include/reusevos/c_api.h" "$WORK/headers/"
cat > "$WORK/headers/module.modulemap" <<'MAP'
module CReuseVOS {
    header "c_api.h"
    link "c++"
    export *
}
MAP
rm -rf "$OUT.partial" "$OUT"
xcodebuild -create-xcframework -output "$OUT.partial" \
  -library "$WORK/ios/libCReuseVOS.a" -headers "$WORK/headers" \
  -library "$WORK/sim/libCReuseVOS.a" -headers "$WORK/headers" \
  -library "$WORK/mac/libCReuseVOS.a" -headers "$WORK/headers" >/dev/null
mv "$OUT.partial" "$OUT"
echo "wrote $OUT"
