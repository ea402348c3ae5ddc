import Foundation
import XCTest

@testable import ReuseVOSKit

/// Tracks a clip written by tests/test_ios_demo.py (REUSEVOS_TEST_BUNDLE: an ExecuTorch bundle;
/// REUSEVOS_TEST_CLIP: NNNNN.ppm frames, start_00000.pgm object ids, decisions.txt: the Python tracker's
/// decisions per frame as "id:decision ...").
final class TrackerTests: XCTestCase {
    private func env(_ key: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[key] else { throw XCTSkip("\(key) is not set") }
        return value
    }

    /// A binary PPM (P6) or PGM (P5): width, height and the pixel bytes.
    private func readPNM(_ path: String) throws -> (Int, Int, [UInt8]) {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var fields: [Int] = []
        var i = 2
        while fields.count < 3 {
            while data[i] == 32 || data[i] == 10 || data[i] == 13 || data[i] == 9 { i += 1 }
            var v = 0
            while data[i] >= 48 && data[i] <= 57 { v = v * 10 + Int(data[i] - 48); i += 1 }
            fields.append(v)
        }
        return (fields[0], fields[1], Array(data[(i + 1)...]))
    }

    func testTracksTheClipAsThePythonTracker() throws {
        let bundle = try env("REUSEVOS_TEST_BUNDLE")
        let clip = try env("REUSEVOS_TEST_CLIP")
        let expected = try String(contentsOfFile: clip + "/decisions.txt", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let tracker = try Tracker(bundle: bundle, threads: 1)
        let (_, _, ids) = try readPNM(clip + "/start_00000.pgm")
        var first: [Int: [UInt8]] = [:]
        for id in Set(ids) where id != 0 { first[Int(id)] = ids.map { $0 == id ? 1 : 0 } }
        for (index, line) in expected.enumerated() {
            let (width, height, rgb) = try readPNM(String(format: "%@/%05d.ppm", clip, index))
            let result = try rgb.withUnsafeBytes {
                try tracker.step(pixels: $0, width: width, height: height, format: .rgb, rowStride: width * 3,
                                 newObjects: index == 0 ? first : [:])
            }
            let decisions = result.record.objects.keys.sorted { Int($0)! < Int($1)! }
                .map { "\($0):\(result.record.objects[$0]!.decision)" }.joined(separator: " ")
            XCTAssertEqual(decisions, line, "frame \(index)")
            XCTAssertEqual(result.labels.count, width * height)
        }
        XCTAssertEqual(tracker.objectIDs, first.keys.sorted())
    }

    func testBadInputIsNamed() throws {
        let bundle = try env("REUSEVOS_TEST_BUNDLE")
        XCTAssertThrowsError(try Tracker(bundle: "/nonexistent/bundle")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/bundle"), "\(error)")
        }
        let tracker = try Tracker(bundle: bundle, threads: 1)
        let pixels = [UInt8](repeating: 90, count: 96 * 64 * 3)
        XCTAssertThrowsError(try pixels.withUnsafeBytes {
            try tracker.step(pixels: $0, width: 96, height: 64, format: .rgb, rowStride: 96 * 3,
                             newObjects: [1: [UInt8](repeating: 0, count: 96 * 64)])
        }) { error in XCTAssertTrue("\(error)".contains("is empty"), "\(error)") }
        XCTAssertThrowsError(try tracker.removeObject(7)) { error in
            XCTAssertTrue("\(error)".contains("object id 7 is not tracked"), "\(error)")
        }
        XCTAssertEqual(tracker.objectIDs, [])
    }

    /// Writes zeros and records every call (subgraph, input names and ranks).
    final class ZeroRunner: SubgraphRunner {
        var calls: [(String, [String], [Int])] = []
        func run(subgraph: String, inputs: [TensorView], outputs: [TensorView]) throws {
            calls.append((subgraph, inputs.map(\.name), inputs.map { $0.shape.count }))
            for out in outputs { out.data.update(repeating: 0) }
        }
    }

    struct Broken: Error, CustomStringConvertible {
        var description: String { "the model is not loaded" }
    }

    final class FailingRunner: SubgraphRunner {
        func run(subgraph: String, inputs: [TensorView], outputs: [TensorView]) throws { throw Broken() }
    }

    func testACallerRunnerGetsEveryCallAndItsFailureIsNamed() throws {
        let bundle = try env("REUSEVOS_TEST_BUNDLE")
        let runner = ZeroRunner()
        let tracker = try Tracker(bundle: bundle, runner: runner)
        let pixels = [UInt8](repeating: 90, count: 96 * 64 * 3)
        var mask = [UInt8](repeating: 0, count: 96 * 64)
        for i in 0..<400 { mask[i] = 1 }
        let result = try pixels.withUnsafeBytes {
            try tracker.step(pixels: $0, width: 96, height: 64, format: .rgb, rowStride: 96 * 3, newObjects: [1: mask])
        }
        XCTAssertEqual(runner.calls.map(\.0), result.record.ran)
        XCTAssertEqual(Array(result.record.ran.prefix(3)), ["backbone_low", "backbone_high", "template_build"])
        XCTAssertEqual(runner.calls[0].1, ["image"])
        XCTAssertEqual(runner.calls[0].2, [4])
        XCTAssertEqual(result.record.objects["1"]?.decision, "init")
        let failing = try Tracker(bundle: bundle, runner: FailingRunner())
        XCTAssertThrowsError(try pixels.withUnsafeBytes {
            try failing.step(pixels: $0, width: 96, height: 64, format: .rgb, rowStride: 96 * 3, newObjects: [1: mask])
        }) { error in
            XCTAssertTrue("\(error)".contains("subgraph backbone_low: the backend failed: the model is not loaded"), "\(error)")
        }
    }

    func testManifestNamesTheSubgraphsARunnerServes() throws {
        let bundle = URL(fileURLWithPath: try env("REUSEVOS_TEST_BUNDLE"))
        let manifest = try BundleManifest(bundle: bundle)
        XCTAssertEqual(manifest.target, "executorch")
        XCTAssertEqual(manifest.subgraphs.first?.name, "backbone_low")
        XCTAssertEqual(manifest.subgraphs.first?.inputs.map(\.name), ["image"])
        XCTAssertEqual(manifest.subgraphs.first?.inputs.first?.shape.count, 4)
        XCTAssertEqual(manifest.tracker?.tau, 0.0)  // tests/conftest.py exports the tiny bundles with tau 0
        XCTAssertThrowsError(try BundleManifest(bundle: URL(fileURLWithPath: "/nonexistent"))) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent: no manifest.json"), "\(error)")
        }
    }
}
