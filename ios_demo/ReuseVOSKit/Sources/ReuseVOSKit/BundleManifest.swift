import Foundation

/// The parts of a bundle's manifest.json a Swift caller needs to pick a runner (the native core reads and
/// verifies the whole manifest, checksums included, when the tracker opens the bundle).
public struct BundleManifest: Decodable {
    public struct TensorSpec: Decodable {
        public let name: String
        public let shape: [Int]
        public let dtype: String
    }

    public struct Subgraph: Decodable {
        public let name: String
        public let inputs: [TensorSpec]
        public let outputs: [TensorSpec]
        /// contract name -> the program's feature name (the same for Core ML, whose features the exporter renames)
        public let programInputs: [String: String]?
        public let programOutputs: [String: String]?

        enum CodingKeys: String, CodingKey {
            case name, inputs, outputs
            case programInputs = "program_inputs", programOutputs = "program_outputs"
        }
    }

    public struct Export: Decodable {
        public let coremlLayout: String?

        enum CodingKeys: String, CodingKey {
            case coremlLayout = "coreml_layout"
        }
    }

    /// The tracker options the bundle was exported with (the app's tau slider starts here).
    public struct TrackerOptions: Decodable {
        public let tau: Double
        public let keyframeBound: Int?

        enum CodingKeys: String, CodingKey {
            case tau
            case keyframeBound = "keyframe_bound"
        }
    }

    public let target: String
    public let precision: String
    public let artifact: String
    public let subgraphs: [Subgraph]
    public let export: Export?
    public let tracker: TrackerOptions?

    /// Core ML bundles: one multifunction package (iOS 18+) unless the export chose one package per subgraph.
    public var coreMLMultifunction: Bool { (export?.coremlLayout ?? "multifunction") == "multifunction" }

    public init(bundle: URL) throws {
        let file = bundle.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: file) else {
            throw ReuseVOSError(description: "bundle \(bundle.path): no manifest.json; expected a folder written by reusevos-export")
        }
        do {
            self = try JSONDecoder().decode(BundleManifest.self, from: data)
        } catch {
            throw ReuseVOSError(description: "bundle \(bundle.path): manifest.json is not a reusevos-export manifest (\(error))")
        }
    }
}
