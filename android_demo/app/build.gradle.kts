// The demo app with the native tracker core (../../native, C++ over ExecuTorch) built by the NDK for arm64-v8a.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

val executorchPrefix: String = providers.gradleProperty("reusevos.executorchPrefix").orNull
    ?: throw GradleException("reusevos.executorchPrefix is not set: point it at ExecuTorch built for Android " +
        "(arm64-v8a, XNNPACK, Module extension; README.md) in gradle.properties or with -Preusevos.executorchPrefix=DIR")

android {
    namespace = "org.reusevos.demo"
    compileSdk = 35
    ndkVersion = "27.2.12479018"

    defaultConfig {
        applicationId = "org.reusevos.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1"
        ndk { abiFilters += "arm64-v8a" }
        externalNativeBuild {
            cmake {
                arguments += listOf("-DCMAKE_PREFIX_PATH=$executorchPrefix", "-DANDROID_STL=c++_shared")
                targets += "reusevos_jni"
            }
        }
    }
    externalNativeBuild {
        cmake {
            path = file("../../native/CMakeLists.txt")
            version = "3.31.6"
        }
    }
    // NativeTracker.java lives beside its JNI code in the native core
    sourceSets["main"].java.srcDirs("src/main/java", "../../native/jni/java")
    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
    // bundles shipped as assets (assets/bundles/NAME/) are copied to the app's files on first start
    androidResources { noCompress += listOf("pte", "json") }
    testOptions { unitTests.all { it.useJUnitPlatform() } }
}

dependencies {
    testImplementation(kotlin("test-junit5"))
    testImplementation("org.junit.jupiter:junit-jupiter:5.11.3")
    testRuntimeOnly("org.junit.platform:junit-platform-launcher")
}
