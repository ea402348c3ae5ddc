#!/usr/bin/env bash
# The app's plain-Kotlin logic (app/src/main/java/org/reusevos/demo/core) under JUnit 5 on this JVM.
#   android_demo/tools/jvm_tests.sh OUT_DIR [java -D options for the tests...]
# Needs the toolchain of install_toolchain.sh (Kotlin) and Debian's junit5.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$1; shift
TOOLS=${REUSEVOS_ANDROID_TOOLS:-$HOME/.cache/reusevos-android}
JUNIT=/usr/share/java/junit-platform-console-standalone.jar
KOTLIN=$TOOLS/kotlinc
rm -rf "$OUT" && mkdir -p "$OUT"
"$KOTLIN/bin/kotlinc" -nowarn -jvm-target 17 -cp "$JUNIT:$KOTLIN/lib/kotlin-test.jar:$KOTLIN/lib/kotlin-test-junit5.jar" \
  -d "$OUT/classes" "$HERE/app/src/main/java/org/reusevos/demo/core" "$HERE/app/src/test/java/org/reusevos/demo/core"
java "$@" -jar "$JUNIT" -cp "$OUT/classes:$KOTLIN/lib/kotlin-stdlib.jar:$KOTLIN/lib/kotlin-test.jar:$KOTLIN/lib/kotlin-test-junit5.jar" \
  --select-package org.reusevos.demo.core --disable-banner --details=summary
