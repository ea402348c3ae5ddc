import Foundation
import XCTest

@testable import ReuseVOSKit

/// The app's benchmark mode and what it reads, on a clip tests/test_ios_demo.py writes into REUSEVOS_TEST_CLIP:
/// jpg/NNNNN.jpg frames, mask.png (the first frame's ids as a DAVIS palette PNG, written by Python),
/// frame0.rgb (OpenCV's decoding of jpg/00000.jpg, RGB bytes).
final class BenchmarkModeTests: XCTestCase {
    private func env(_ key: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[key] else { throw XCTSkip("\(key) is not set") }
        return value
    }

    func testLaunchArgumentsParseAndBadOnesAreNamed() throws {
        XCTAssertNil(try BenchmarkRequest.parse(["-NSDocumentRevisionsDebugMode", "YES"]))
        let r = try XCTUnwrap(try BenchmarkRequest.parse(["-AppleLanguages", "(en)", "--bundle", "b", "--frames", "f",
                                                          "--mask", "m.png", "--frame_count", "40", "--tau", "0.5",
                                                          "--cooldown_s", "0.0", "--out", "x.json"]))
        XCTAssertEqual([r.bundle, r.frames, r.mask, r.out], ["b", "f", "m.png", "x.json"])
        XCTAssertEqual(r.frameCount, 40)
        XCTAssertEqual(r.tau, 0.5)
        XCTAssertEqual(r.threads, 1)
        for (args, expected) in [(["--bundle", "b", "--frames", "f"], "argument --mask: missing"),
                                 (["--bundle", "b", "--frames", "f", "--mask", "m", "--tau", "2"], "--tau: expected a threshold"),
                                 (["--bundle", "b", "--frames", "f", "--mask", "m", "--warmup", "-1"], "--warmup: expected an integer"),
                                 (["--bundle", "b", "--frames", "f", "--mask", "m", "--out", "../x.json"], "--out: expected a file name"),
                                 (["--bundel", "b"], "argument --bundel: unknown")] {
            XCTAssertThrowsError(try BenchmarkRequest.parse(args)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
    }

    func testPaletteMaskFromPythonDecodesAndRoundTrips() throws {
        let clip = URL(fileURLWithPath: try env("REUSEVOS_TEST_CLIP"))
        let mask = try IdMask(png: clip.appendingPathComponent("mask.png"))
        let objects = mask.objectMasks()
        XCTAssertEqual(objects.keys.sorted(), [1, 2])
        XCTAssertEqual(objects.values.map { $0.reduce(0) { $0 + Int($1) } }.reduce(0, +),
                       mask.ids.filter { $0 != 0 }.count)
        let again = try IdMask(png: try mask.png(), what: "round trip")
        XCTAssertEqual(again, mask)
        XCTAssertThrowsError(try IdMask(png: [1, 2, 3], what: "junk")) { error in
            XCTAssertTrue("\(error)".contains("junk: not a PNG file"), "\(error)")
        }
    }

    func testJPEGDecodesAsOpenCVDoes() throws {
        let clip = URL(fileURLWithPath: try env("REUSEVOS_TEST_CLIP"))
        let image = try RGBAImage(contentsOf: clip.appendingPathComponent("jpg/00000.jpg"))
        let reference = try [UInt8](Data(contentsOf: clip.appendingPathComponent("frame0.rgb")))
        XCTAssertEqual(image.width * image.height * 3, reference.count)
        var worst = 0
        for i in 0..<(image.width * image.height) {
            for c in 0..<3 { worst = max(worst, abs(Int(image.pixels[4 * i + c]) - Int(reference[3 * i + c]))) }
            XCTAssertEqual(image.pixels[4 * i + 3], 255)
        }
        XCTAssertLessThanOrEqual(worst, 1, "largest channel difference to OpenCV's decoding")
    }

    func testBGRAFramesTrackAsRGB() throws {
        let bundle = try env("REUSEVOS_TEST_BUNDLE")
        let clip = URL(fileURLWithPath: try env("REUSEVOS_TEST_CLIP"))
        let first = try IdMask(png: clip.appendingPathComponent("mask.png")).objectMasks()
        let files = try FrameFolder.files(clip.appendingPathComponent("jpg"))
        let rgba = try Tracker(bundle: bundle, threads: 1), bgra = try Tracker(bundle: bundle, threads: 1)
        for (index, file) in files.enumerated() {
            let image = try RGBAImage(contentsOf: file)
            let stride = image.width * 4 + 16  // a camera buffer's padded rows
            var swapped = [UInt8](repeating: 0, count: stride * image.height)
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let s = 4 * (y * image.width + x), d = y * stride + 4 * x
                    (swapped[d], swapped[d + 1], swapped[d + 2], swapped[d + 3]) =
                        (image.pixels[s + 2], image.pixels[s + 1], image.pixels[s], 255)
                }
            }
            let objects = index == 0 ? first : [:]
            let a = try rgba.step(image, newObjects: objects)
            let b = try swapped.withUnsafeBytes {
                try bgra.step(pixels: $0, width: image.width, height: image.height, format: .bgra, rowStride: stride,
                              newObjects: objects)
            }
            XCTAssertEqual(a.labels, b.labels, "frame \(index)")
            XCTAssertEqual(a.record.objects, b.record.objects, "frame \(index)")
        }
    }

    func testBenchmarkModeWritesTheMeasurementOrTheError() throws {
        let bundle = try env("REUSEVOS_TEST_BUNDLE")
        let clip = URL(fileURLWithPath: try env("REUSEVOS_TEST_CLIP"))
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("reusevos-home-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        var request = BenchmarkRequest(bundle: bundle, frames: clip.appendingPathComponent("jpg").path,
                                       mask: clip.appendingPathComponent("mask.png").path)
        (request.frameCount, request.warmup, request.cooldownS, request.out) = (9, 1, 0, "run1.json")
        let url = try BenchmarkMode.run(request, home: home)
        XCTAssertEqual(url, home.appendingPathComponent("Documents/reusevos/bench/run1.json"))
        let m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for key in ["name", "target", "precision", "bundle", "size_mb", "load_ms", "frames", "per_frame_ms",
                    "per_frame_subgraph_ms", "per_frame_kind", "tracker", "per_subgraph_ms", "calls", "computed",
                    "reused", "reuse_rate", "cpu_seconds_per_frame", "peak_memory_mb", "joules_per_frame", "energy_source"] {
            XCTAssertNotNil(m[key], "measurement lacks \(key)")
        }
        XCTAssertEqual(m["frames"] as? Int, 9)
        XCTAssertEqual((m["per_frame_ms"] as? [Double])?.count, 9)
        XCTAssertEqual(m["name"] as? String, "run1")
        XCTAssertEqual(m["memory_source"] as? String, "peak resident memory (VmHWM)")
        XCTAssertNotNil(m["thermal_state"])
        XCTAssertEqual(m["notes"] as? [String], ["native tracker core (C++) over ExecuTorch"])

        request.bundle = "/nonexistent/bundle"
        request.out = "bad.json"
        XCTAssertThrowsError(try BenchmarkMode.run(request, home: home))
        let bad = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: BenchmarkMode.resultURL(home: home, out: "bad.json"))) as? [String: Any])
        XCTAssertTrue((bad["error"] as? String)?.contains("/nonexistent/bundle") == true, "\(bad)")

        // launch arguments that do not parse: the error goes where the harness looks (--out)
        XCTAssertThrowsError(try BenchmarkMode.run(arguments: ["--bundle", bundle, "--frames", "f", "--mask", "m",
                                                               "--tau", "7", "--out", "bad2.json"], home: home))
        let unparsed = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: BenchmarkMode.resultURL(home: home, out: "bad2.json"))) as? [String: Any])
        XCTAssertTrue((unparsed["error"] as? String)?.contains("argument --tau") == true, "\(unparsed)")
    }

    func testStatusLineAndOverlayColours() throws {
        var stats = TrackStats(window: 3)
        let record = try JSONDecoder().decode(FrameRecord.self, from: Data(
            #"{"frame": 1, "objects": {"2": {"p_gate": 0.9, "decision": "reuse"}, "1": {"p_gate": 0.2, "decision": "compute"}}, "ran": []}"#.utf8))
        for t in 0..<4 { stats.add(finishedAt: Double(t) * 0.05, stepMs: 12.5, record: record) }
        XCTAssertEqual(stats.line, "20.0 FPS  12.5 ms/frame  #1 COMPUTED  #2 REUSED  reuse 50 %")
        XCTAssertEqual(Overlay.rgb(id: 1), [128, 0, 0])
        XCTAssertEqual(Overlay.rgb(id: 2), [0, 128, 0])
        XCTAssertEqual(Overlay.rgb(id: 3), [128, 128, 0])
        XCTAssertEqual(Array(Overlay.render(labels: [0, 1], alpha: 255)), [0, 0, 0, 0, 128, 0, 0, 255])
    }
}

final class ObjectStrokesTests: XCTestCase {
    func testStrokesRasteriseAtTheFrameSizePerObject() {
        var strokes = ObjectStrokes()
        strokes.radius = 0.05
        strokes.nextObject()  // nothing painted yet: still object 1
        strokes.begin(x: 0.1, y: 0.5)
        strokes.extend(x: 0.4, y: 0.5)
        strokes.nextObject()
        strokes.begin(x: 0.8, y: 0.2)  // a tap: a dot
        let masks = strokes.masks(width: 100, height: 50)
        XCTAssertEqual(masks.keys.sorted(), [1, 2])
        let one = masks[1]!, two = masks[2]!
        XCTAssertEqual(one[25 * 100 + 25], 1)  // on the segment
        XCTAssertEqual(one[25 * 100 + 60], 0)
        XCTAssertEqual(one[5 * 100 + 25], 0)  // more than the radius (5 px) away
        XCTAssertEqual(two[10 * 100 + 80], 1)
        let dot = two.reduce(0) { $0 + Int($1) }
        XCTAssertTrue((70...90).contains(dot), "\(dot) pixels; a disc of radius 5 covers about 78.5")
        strokes.clear()
        XCTAssertTrue(strokes.isEmpty && strokes.objectID == 1 && strokes.masks(width: 10, height: 10).isEmpty)
    }
}
