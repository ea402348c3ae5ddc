// swift-tools-version:5.9
// ReuseVOSKit: the tracker for Swift callers over the native core's C API (../../native, libreusevos_c), a
// Core ML runner, the benchmark mode the app runs, and `reusevos-track` (the command-line tool).
// On Linux (this repository's CI, Swift 6 in a Debian trixie chroot) the library comes from CMake's build
// folder, given as REUSEVOS_NATIVE_LIB, and JPEG frames decode with TurboJPEG; on iOS/macOS link the
// xcframework built from the same CMake project (README.md) and ImageIO decodes.
import Foundation
import PackageDescription

let nativeLib = ProcessInfo.processInfo.environment["REUSEVOS_NATIVE_LIB"]
let linkNative: [LinkerSetting] = nativeLib.map {
    [.unsafeFlags(["-L\($0)", "-Xlinker", "-rpath", "-Xlinker", $0])]
} ?? []
// Apple platforms: the core as an xcframework (../tools/build_xcframework.sh writes it next to this file);
// elsewhere the system-library module over c_api.h and libreusevos_c from REUSEVOS_NATIVE_LIB.
let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let xcframework = FileManager.default.fileExists(atPath: packageDir.appendingPathComponent("CReuseVOS.xcframework").path)
let core: Target = xcframework
    ? .binaryTarget(name: "CReuseVOS", path: "CReuseVOS.xcframework")
    : .systemLibrary(name: "CReuseVOS", path: "Sources/CReuseVOS")

let package = Package(
    name: "ReuseVOSKit",
    platforms: [.macOS(.v14), .iOS(.v17)],
    products: [
        .library(name: "ReuseVOSKit", targets: ["ReuseVOSKit"]),
        .executable(name: "reusevos-track", targets: ["reusevos-track"]),
    ],
    targets: [
        core,
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        .target(name: "ReuseVOSKit",
                dependencies: ["CReuseVOS", "CZlib", .target(name: "CTurboJPEG", condition: .when(platforms: [.linux]))],
                linkerSettings: linkNative),
        .executableTarget(name: "reusevos-track", dependencies: ["ReuseVOSKit"], linkerSettings: linkNative),
        .testTarget(name: "ReuseVOSKitTests", dependencies: ["ReuseVOSKit"]),
    ]
)
