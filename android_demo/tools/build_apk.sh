#!/usr/bin/env bash
# A signed, aligned APK of the demo app without Gradle (what CI builds; users build with Gradle, see
# ../README.md): aapt2 -> javac (NativeTracker, R) -> kotlinc (the app) -> dx (with kotlin-stdlib) ->
# zipalign -> apksigner with a throwaway debug key. The APK carries no native library (no NDK here);
# the Gradle build adds libreusevos_jni.so for arm64-v8a.
#   android_demo/tools/build_apk.sh OUT_DIR     (toolchain: install_toolchain.sh; OUT_DIR/reusevos-demo.apk)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
REPO=$(cd "$HERE/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
TOOLS=${REUSEVOS_ANDROID_TOOLS:-$HOME/.cache/reusevos-android}
AJ=$TOOLS/root/usr/lib/android-sdk/platforms/android-23/android.jar
DX=$TOOLS/root/usr/share/java/com.android.dx.jar
KOTLIN=$TOOLS/kotlinc
APP=$HERE/app/src/main
PACKAGE=org.reusevos.demo
MIN_SDK=26
for f in "$AJ" "$DX" "$KOTLIN/bin/kotlinc"; do
  [ -e "$f" ] || { echo "error: $f is missing: run android_demo/tools/install_toolchain.sh" >&2; exit 2; }
done
B=$OUT/work
rm -rf "$B" && mkdir -p "$B/gen" "$B/classes" "$B/dex"
# the manifest as Gradle merges it: the package from the namespace, the SDK levels from the build file
sed "s|<manifest |<manifest package=\"$PACKAGE\" android:versionCode=\"1\" android:versionName=\"0.1\" |" \
  "$APP/AndroidManifest.xml" > "$B/AndroidManifest.xml"
aapt2 compile --dir "$APP/res" -o "$B/res.zip"
aapt2 link -I "$AJ" --manifest "$B/AndroidManifest.xml" --min-sdk-version $MIN_SDK --target-sdk-version $MIN_SDK \
  --java "$B/gen" -o "$B/unsigned.apk" "$B/res.zip"
javac -nowarn -source 8 -target 8 -bootclasspath "$AJ" -d "$B/classes" \
  $(find "$B/gen" "$REPO/native/jni/java" -name '*.java') 2>&1 | { grep -v "^warning: \[options\]\|^[0-9]* warning" || true; }
"$KOTLIN/bin/kotlinc" -nowarn -no-jdk -no-reflect -jvm-target 1.8 -cp "$AJ:$B/classes" -d "$B/classes" "$APP/java"
# kotlin-stdlib without its Java 9+ multi-release classes (dx reads Java 8 class files)
cp "$KOTLIN/lib/kotlin-stdlib.jar" "$B/kotlin-stdlib.jar" && chmod u+w "$B/kotlin-stdlib.jar"
zip -q -d "$B/kotlin-stdlib.jar" 'META-INF/versions/*' >/dev/null 2>&1 || true
java -jar "$DX" --dex --min-sdk-version=$MIN_SDK --output="$B/dex/classes.dex" "$B/classes" "$B/kotlin-stdlib.jar"
(cd "$B/dex" && zip -q -u "$B/unsigned.apk" classes.dex)
zipalign -f -p 4 "$B/unsigned.apk" "$B/aligned.apk"
keytool -genkeypair -keystore "$B/debug.keystore" -storepass android -keypass android -alias debug \
  -keyalg RSA -keysize 2048 -validity 3650 -dname CN=reusevos-debug >/dev/null 2>&1
apksigner sign --ks "$B/debug.keystore" --ks-pass pass:android --out "$OUT/reusevos-demo.apk.partial" "$B/aligned.apk"
mv "$OUT/reusevos-demo.apk.partial" "$OUT/reusevos-demo.apk"
apksigner verify "$OUT/reusevos-demo.apk"
echo "$OUT/reusevos-demo.apk"
