#if canImport(CoreML)
import CoreML
import Foundation

/// Runs a `reusevos-export --target coreml` bundle's subgraphs with Core ML: the functions of the
/// multifunction `model.mlpackage` (iOS 18 / macOS 15) or one `<subgraph>.mlpackage` each (iOS 17).
/// Inputs are wrapped without a copy; outputs (float32, as the exporter writes them) are copied into the
/// core's buffers. NOT compiled or run by this repository's CI: there is no Mac there (README.md).
@available(iOS 17.0, macOS 14.0, *)
public final class CoreMLRunner: SubgraphRunner {
    private var models: [String: MLModel] = [:]

    /// Compiles and loads every subgraph now, so no compilation happens inside a tracked frame.
    public init(bundle: URL, computeUnits: MLComputeUnits = .all) throws {
        let manifest = try BundleManifest(bundle: bundle)
        guard manifest.target == "coreml" else {
            throw ReuseVOSError(description: "bundle \(bundle.path): target \"\(manifest.target)\", CoreMLRunner runs \"coreml\" bundles")
        }
        let config = MLModelConfiguration()
        config.computeUnits = computeUnits
        if manifest.coreMLMultifunction {
            guard #available(iOS 18.0, macOS 15.0, *) else {
                throw ReuseVOSError(description: "bundle \(bundle.path): a multifunction package needs iOS 18 / macOS 15; "
                    + "export with the per-subgraph layout for iOS 17")
            }
            let compiled = try MLModel.compileModel(at: bundle.appendingPathComponent(manifest.artifact))
            for graph in manifest.subgraphs {
                let functionConfig = config.copy() as! MLModelConfiguration
                functionConfig.functionName = graph.name
                models[graph.name] = try MLModel(contentsOf: compiled, configuration: functionConfig)
            }
        } else {
            for graph in manifest.subgraphs {
                let compiled = try MLModel.compileModel(at: bundle.appendingPathComponent("\(graph.name).mlpackage"))
                models[graph.name] = try MLModel(contentsOf: compiled, configuration: config)
            }
        }
    }

    public func run(subgraph: String, inputs: [TensorView], outputs: [TensorView]) throws {
        guard let model = models[subgraph] else {
            throw ReuseVOSError(description: "no Core ML model for subgraph \(subgraph)")
        }
        var features: [String: MLFeatureValue] = [:]
        for input in inputs {
            let strides = input.shape.indices.map { i in input.shape[(i + 1)...].reduce(1, *) }
            let array = try MLMultiArray(dataPointer: UnsafeMutableRawPointer(input.data.baseAddress!),
                                         shape: input.shape.map { NSNumber(value: $0) }, dataType: .float32,
                                         strides: strides.map { NSNumber(value: $0) })
            features[input.name] = MLFeatureValue(multiArray: array)
        }
        let result = try model.prediction(from: MLDictionaryFeatureProvider(dictionary: features))
        for output in outputs {
            guard let array = result.featureValue(for: output.name)?.multiArrayValue, array.dataType == .float32,
                  array.count == output.data.count else {
                throw ReuseVOSError(description: "subgraph \(subgraph): output \(output.name) is missing or not "
                    + "\(output.data.count) float32 values")
            }
            let scalars = MLShapedArray<Float>(array).scalars  // row-major whatever the array's strides
            for i in 0..<scalars.count { output.data[i] = scalars[i] }
        }
    }
}
#endif
