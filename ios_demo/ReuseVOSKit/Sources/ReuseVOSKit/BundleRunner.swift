import Foundation

/// Core ML compute units, as a plain value (mapped to MLComputeUnits where Core ML exists).
public enum ComputeUnits: String, CaseIterable {
    case all, cpuOnly, cpuAndGPU, cpuAndNeuralEngine
}

/// What runs a bundle's subgraphs here: `coreml` bundles through `CoreMLRunner` (Apple platforms only),
/// `executorch` bundles through the native core's ExecuTorch backend. TFLite and ONNX bundles are for the
/// Android app and the Python runtime.
enum BundleRunner {
    /// nil: the core's own ExecuTorch backend; else the Swift runner, made when the core loads the bundle.
    static func box(for bundle: URL, computeUnits: ComputeUnits) throws -> RunnerBox? {
        let manifest = try BundleManifest(bundle: bundle)
        switch manifest.target {
        case "executorch":
            return nil
        case "coreml":
            #if canImport(CoreML)
            if #available(iOS 17.0, macOS 14.0, *) {
                return RunnerBox(name: "Core ML (\(computeUnits.rawValue))") {
                    try CoreMLRunner(bundle: bundle, manifest: manifest, computeUnits: computeUnits)
                }
            }
            #endif
            throw ReuseVOSError(description: "bundle \(bundle.path): a Core ML bundle runs on iOS 17 / macOS 14 or later "
                + "only; here export --target executorch")
        default:
            throw ReuseVOSError(description: "bundle \(bundle.path): target \"\(manifest.target)\"; ReuseVOSKit runs "
                + "coreml and executorch bundles")
        }
    }
}

extension Tracker {
    /// The tracker over any bundle ReuseVOSKit runs: Core ML through `CoreMLRunner`, ExecuTorch through the
    /// core (`threads`: 0 for its default). Models load now, not in the first frame.
    public static func open(bundle: URL, computeUnits: ComputeUnits = .all, tau: Double? = nil, keyframeBound: Int? = nil,
                            threads: Int = 0) throws -> Tracker {
        guard let box = try BundleRunner.box(for: bundle, computeUnits: computeUnits) else {
            return try Tracker(bundle: bundle.path, tau: tau, keyframeBound: keyframeBound, threads: threads)
        }
        return try Tracker(bundle: bundle.path, box: box, tau: tau, keyframeBound: keyframeBound)
    }
}
