#if canImport(CoreML)
import CoreML
import Foundation

/// Runs a `reusevos-export --target coreml` bundle's subgraphs with Core ML, as its `CoreMLPlan` says: the
/// functions of the multifunction `model.mlpackage` (iOS 18 / macOS 15) or one `<subgraph>.mlpackage` each
/// (iOS 17). Every model is compiled, loaded and checked against the plan up front (no compilation inside a
/// tracked frame). Inputs are wrapped without a copy; outputs (float32, as the exporter writes them) are
/// copied into the core's buffers. NOT compiled or run by this repository's CI: there is no Mac there.
@available(iOS 17.0, macOS 14.0, *)
public final class CoreMLRunner: SubgraphRunner {
    private var models: [String: (model: MLModel, plan: CoreMLPlan.Function)] = [:]

    public convenience init(bundle: URL, computeUnits: ComputeUnits = .all) throws {
        try self.init(bundle: bundle, manifest: try BundleManifest(bundle: bundle), computeUnits: computeUnits)
    }

    init(bundle: URL, manifest: BundleManifest, computeUnits: ComputeUnits) throws {
        let plan = try CoreMLPlan(manifest: manifest, bundle: bundle.path)
        if plan.multifunction {
            guard #available(iOS 18.0, macOS 15.0, *) else {
                throw ReuseVOSError(description: "bundle \(bundle.path): a multifunction package needs \(plan.minimumOS); "
                    + "export with --coreml-layout per_subgraph for iOS 17")
            }
        }
        var compiled: [String: URL] = [:]  // package -> compiled .mlmodelc, once per package
        for function in plan.functions {
            if compiled[function.package] == nil {
                compiled[function.package] = try MLModel.compileModel(at: bundle.appendingPathComponent(function.package))
            }
            let config = MLModelConfiguration()
            config.computeUnits = computeUnits.mlComputeUnits
            if let name = function.function, #available(iOS 18.0, macOS 15.0, *) { config.functionName = name }
            let model = try MLModel(contentsOf: compiled[function.package]!, configuration: config)
            try CoreMLRunner.check(model.modelDescription, against: function, bundle: bundle.path)
            models[function.subgraph] = (model, function)
        }
    }

    /// The loaded function's features against the plan: a clear error instead of a failed prediction later.
    static func check(_ description: MLModelDescription, against plan: CoreMLPlan.Function, bundle: String) throws {
        for (kind, got, want) in [("input", description.inputDescriptionsByName, plan.inputs),
                                  ("output", description.outputDescriptionsByName, plan.outputs)] {
            for feature in want {
                guard let constraint = got[feature.name]?.multiArrayConstraint else {
                    throw ReuseVOSError(description: "bundle \(bundle): \(plan.subgraph) has no multiarray \(kind) \(feature.name)")
                }
                guard constraint.shape.map(\.intValue) == feature.shape, constraint.dataType == .float32 else {
                    throw ReuseVOSError(description: "bundle \(bundle): \(plan.subgraph) \(kind) \(feature.name) is "
                        + "\(constraint.shape) \(constraint.dataType.rawValue), expected \(feature.shape) float32")
                }
            }
        }
    }

    public func run(subgraph: String, inputs: [TensorView], outputs: [TensorView]) throws {
        guard let (model, plan) = models[subgraph] else {
            throw ReuseVOSError(description: "no Core ML model for subgraph \(subgraph)")
        }
        var features: [String: MLFeatureValue] = [:]
        for (input, feature) in zip(inputs, plan.inputs) {
            let strides = input.shape.indices.map { i in input.shape[(i + 1)...].reduce(1, *) }
            let array = try MLMultiArray(dataPointer: UnsafeMutableRawPointer(input.data.baseAddress!),
                                         shape: input.shape.map { NSNumber(value: $0) }, dataType: .float32,
                                         strides: strides.map { NSNumber(value: $0) })
            features[feature.name] = MLFeatureValue(multiArray: array)
        }
        let result = try model.prediction(from: MLDictionaryFeatureProvider(dictionary: features))
        for (output, feature) in zip(outputs, plan.outputs) {
            guard let array = result.featureValue(for: feature.name)?.multiArrayValue, array.dataType == .float32,
                  array.count == output.data.count else {
                throw ReuseVOSError(description: "subgraph \(subgraph): output \(feature.name) is missing or not "
                    + "\(output.data.count) float32 values")
            }
            let scalars = MLShapedArray<Float>(array).scalars  // row-major whatever the array's strides
            _ = scalars.withUnsafeBufferPointer { output.data.update(fromContentsOf: $0) }
        }
    }
}

extension ComputeUnits {
    var mlComputeUnits: MLComputeUnits {
        switch self {
        case .all: return .all
        case .cpuOnly: return .cpuOnly
        case .cpuAndGPU: return .cpuAndGPU
        case .cpuAndNeuralEngine: return .cpuAndNeuralEngine
        }
    }
}
#endif
