#!/usr/bin/env bash
# The app's plain-Kotlin logic (app/src/main/java/org/reusevos/demo/core, with NativeTracker.java) and its
# tests (app/src/test/java) compiled into OUT_DIR/classes, then JUnit 5 on the core tests.
#   android_demo/tools/jvm_tests.sh OUT_DIR [java -D options for the tests...]
# Needs the toolchain of install_toolchain.sh (Kotlin) and Debian's junit5.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1; shift
TOOLS=${REUSEVOS_ANDROID_TOOLS:-$HOME/.cache/reusevos-android}
JUNIT=/usr/share/java/junit-platform-console-standalone.jar
KOTLIN=$TOOLS/kotlinc
LIBS="$KOTLIN/lib/kotlin-stdlib.jar:$KOTLIN/lib/kotlin-test.jar:$KOTLIN/lib/kotlin-test-junit5.jar"
rm -rf "$OUT" && mkdir -p "$OUT/classes"
javac -d "$OUT/classes" "$HERE/../native/jni/java/org/reusevos/NativeTracker.java"
"$KOTLIN/bin/kotlinc" -nowarn -jvm-target 17 -cp "$OUT/classes:$JUNIT:$LIBS" -d "$OUT/classes" \
  "$HERE/app/src/main/java/org/reusevos/demo/core" "$HERE/app/src/test/java"
java "$@" -jar "$JUNIT" -cp "$OUT/classes:$LIBS" --select-package org.reusevos.demo.core --disable-banner --details=summary
