// The users' build (Android Gradle Plugin 8, NDK, Google's Maven). CI builds a smoke APK without Gradle
// (tools/build_apk.sh); see README.md for what has and has not been run.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "reusevos-demo"
include(":app")
