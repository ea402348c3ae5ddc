#!/usr/bin/env bash
# The APK toolchain without Gradle or Maven (what this repository's CI builds the demo APK with):
# aapt2 (package aapt), zipalign, apksigner from Debian bookworm; android.jar (API 23) and dx from bullseye, unpacked
# into $TOOLS without touching /etc/apt; Kotlin 2 from npm. Idempotent; prints nothing on success.
#   android_demo/tools/install_toolchain.sh [TOOLS]   (default: ~/.cache/reusevos-android)
set -euo pipefail
TOOLS=${1:-${REUSEVOS_ANDROID_TOOLS:-$HOME/.cache/reusevos-android}}
KOTLIN_VERSION=2.4.20
mkdir -p "$TOOLS"
cd "$TOOLS"
apt_install() {  # Debian packages of this machine's own suite (needs root, like the JUnit 5 install)
  apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}
missing=()
for pair in aapt:aapt aapt2:aapt zipalign:zipalign apksigner:apksigner zip:zip; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] || apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
if [ ! -f root/usr/lib/android-sdk/platforms/android-23/android.jar ] || [ ! -f root/usr/share/java/com.android.dx.jar ]; then
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/* 2>/dev/null | awk '{print $2}' | grep -v security | grep debian | head -1)
  mirror=${mirror:-$(awk '/^deb / && !/security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  mirror=${mirror:-http://deb.debian.org/debian}
  R=$TOOLS/apt-bullseye
  mkdir -p "$R/lists/partial" "$R/cache/archives/partial" debs
  echo "deb $mirror bullseye main" > "$R/sources.list"
  A=(-o Dir::Etc::sourcelist="$R/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$R/lists"
     -o Dir::Cache="$R/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  apt-get "${A[@]}" update -q >/dev/null
  (cd debs && apt-get "${A[@]}" download android-sdk-platform-23 libandroid-23-java dalvik-exchange >/dev/null)
  for deb in debs/*.deb; do dpkg -x "$deb" root; done
fi
if [ ! -x kotlinc/bin/kotlinc ]; then
  rm -rf kotlin-pack && mkdir kotlin-pack
  (cd kotlin-pack && npm pack -q "kotlin-compiler@$KOTLIN_VERSION" >/dev/null && tar xzf kotlin-compiler-*.tgz)
  rm -rf kotlinc && mv kotlin-pack/package kotlinc && rm -rf kotlin-pack
  chmod +x kotlinc/bin/*
fi
