import Foundation

/// What `CoreMLRunner` loads from a `reusevos-export --target coreml` bundle, written down as plain data:
/// for each subgraph the package (the multifunction `model.mlpackage` or `<subgraph>.mlpackage`), the
/// function in it, and the input and output features (name, shape, dtype) it feeds and reads. The runner
/// checks each loaded model's description against it; `reusevos-track coreml-plan BUNDLE` prints it, and
/// tests/test_ios_demo.py compares it with the exported packages' specs (coremltools), so the Swift side
/// and the exporter cannot drift apart silently.
public struct CoreMLPlan: Encodable, Equatable {
    public struct Feature: Encodable, Equatable {
        public let name: String
        public let shape: [Int]
        public let dtype: String  // "float32": the exporter keeps every boundary float32 (fp16 computes inside)
    }

    public struct Function: Encodable, Equatable {
        public let subgraph: String
        public let package: String  // relative to the bundle
        public let function: String?  // nil: the package's main function (per-subgraph layout)
        public let inputs: [Feature]
        public let outputs: [Feature]
    }

    public let multifunction: Bool
    public let minimumOS: String
    public let functions: [Function]

    enum CodingKeys: String, CodingKey {
        case multifunction, functions
        case minimumOS = "minimum_os"
    }

    public init(manifest: BundleManifest, bundle: String) throws {
        guard manifest.target == "coreml" else {
            throw ReuseVOSError(description: "bundle \(bundle): target \"\(manifest.target)\"; a Core ML plan needs a coreml bundle")
        }
        let multifunction = manifest.coreMLMultifunction
        self.multifunction = multifunction
        minimumOS = multifunction ? "iOS 18 / macOS 15" : "iOS 17 / macOS 14"
        functions = try manifest.subgraphs.map { graph in
            func features(_ specs: [BundleManifest.TensorSpec], _ names: [String: String]?) throws -> [Feature] {
                try specs.map { spec in
                    guard spec.dtype == "float32" else {
                        throw ReuseVOSError(description: "bundle \(bundle): subgraph \(graph.name) \(spec.name) is \(spec.dtype); "
                            + "the Core ML runner exchanges float32")
                    }
                    return Feature(name: names?[spec.name] ?? spec.name, shape: spec.shape, dtype: spec.dtype)
                }
            }
            return Function(subgraph: graph.name, package: multifunction ? manifest.artifact : "\(graph.name).mlpackage",
                            function: multifunction ? graph.name : nil,
                            inputs: try features(graph.inputs, graph.programInputs),
                            outputs: try features(graph.outputs, graph.programOutputs))
        }
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
