// swift-tools-version:5.9
// ReuseVOSKit: the tracker for Swift callers over the native core's C API (../../native, libreusevos_c).
// On Linux (this repository's CI, Swift 6 in a Debian trixie chroot) the library comes from CMake's build
// folder, given as REUSEVOS_NATIVE_LIB; on iOS/macOS link the xcframework built from the same CMake
// project (README.md).
import Foundation
import PackageDescription

let nativeLib = ProcessInfo.processInfo.environment["REUSEVOS_NATIVE_LIB"]
let linkNative: [LinkerSetting] = nativeLib.map {
    [.unsafeFlags(["-L\($0)", "-Xlinker", "-rpath", "-Xlinker", $0])]
} ?? []

let package = Package(
    name: "ReuseVOSKit",
    platforms: [.macOS(.v14), .iOS(.v17)],
    products: [
        .library(name: "ReuseVOSKit", targets: ["ReuseVOSKit"]),
    ],
    targets: [
        .systemLibrary(name: "CReuseVOS", path: "Sources/CReuseVOS"),
        .target(name: "ReuseVOSKit", dependencies: ["CReuseVOS"], linkerSettings: linkNative),
        .testTarget(name: "ReuseVOSKitTests", dependencies: ["ReuseVOSKit"]),
    ]
)
