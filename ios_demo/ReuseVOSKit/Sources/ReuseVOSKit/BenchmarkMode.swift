import CReuseVOS
import Foundation

/// The app's benchmark mode (what `reusevos-bench --device ios` launches): decode the clip, run the core's
/// benchmark protocol (cool-down, timed load, warm-up, the timed clip) over the bundle's runner with this
/// process's probe, and write the measurement JSON to `Documents/reusevos/bench/<out>` in the app's home.
/// A failure writes `{"error": ...}` there instead (the harness reports it) and rethrows.
public enum BenchmarkMode {
    public static func resultURL(home: URL, out: String) -> URL {
        home.appendingPathComponent("Documents/reusevos/bench").appendingPathComponent(out)
    }

    @discardableResult
    public static func run(_ request: BenchmarkRequest, home: URL, computeUnits: ComputeUnits = .all) throws -> URL {
        let result = resultURL(home: home, out: request.out)
        do {
            let doc = try measure(request, home: home, computeUnits: computeUnits)
            try Files.atomicWrite(Data(doc.utf8), to: result)
        } catch {
            try writeError(error, home: home, out: request.out)
            throw error
        }
        return result
    }

    /// The app's entry: the launch arguments parsed and run. Arguments that do not parse also leave
    /// `{"error": ...}` where the harness looks (the `--out` given, if it is a valid name).
    @discardableResult
    public static func run(arguments: [String], home: URL, computeUnits: ComputeUnits = .all) throws -> URL {
        let request: BenchmarkRequest
        do {
            guard let parsed = try BenchmarkRequest.parse(arguments) else {
                throw ReuseVOSError(description: "benchmark mode: expected --bundle, --frames and --mask arguments")
            }
            request = parsed
        } catch {
            let out = arguments.firstIndex(of: "--out").flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
            try writeError(error, home: home, out: out.flatMap { BenchmarkRequest.isResultName($0) ? $0 : nil }
                ?? BenchmarkRequest.defaultOut)
            throw error
        }
        return try run(request, home: home, computeUnits: computeUnits)
    }

    static func writeError(_ error: Error, home: URL, out: String) throws {
        let doc = try JSONSerialization.data(withJSONObject: ["error": "\(error)"], options: [.sortedKeys])
        try Files.atomicWrite(doc, to: resultURL(home: home, out: out))
    }

    /// A path from the launch arguments: absolute, or relative to the app's home (the data container).
    static func resolve(_ path: String, home: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : home.appendingPathComponent(path)
    }

    static func measure(_ request: BenchmarkRequest, home: URL, computeUnits: ComputeUnits) throws -> String {
        let bundle = resolve(request.bundle, home: home)
        let box = try BundleRunner.box(for: bundle, computeUnits: computeUnits)  // checks the bundle's target first
        let files = try FrameFolder.files(resolve(request.frames, home: home))
        guard files.count >= 2 else {
            throw ReuseVOSError(description: "frames \(request.frames): \(files.count) frame; expected at least 2")
        }
        // decoded before anything is timed, straight into one buffer: the clip is held once, not twice
        var pixels: [UInt8] = []
        var width = 0, height = 0
        for (index, file) in files.enumerated() {
            let f = try RGBAImage(contentsOf: file)
            if index == 0 {
                (width, height) = (f.width, f.height)
                pixels.reserveCapacity(files.count * width * height * 4)
            } else if f.width != width || f.height != height {
                throw ReuseVOSError(description: "frame \(file.path): \(f.width)x\(f.height), frame 0 is \(width)x\(height)")
            }
            pixels += f.pixels
        }
        let mask = try IdMask(png: resolve(request.mask, home: home))
        guard mask.width == width, mask.height == height else {
            throw ReuseVOSError(description: "mask \(request.mask): \(mask.width)x\(mask.height), the frames are \(width)x\(height)")
        }
        let objects = mask.objectMasks()
        guard !objects.isEmpty else { throw ReuseVOSError(description: "mask \(request.mask): no object ids (all 0 or 255)") }
        let options = try request.optionsJSON(bundlePath: bundle.path)
        let probe = ProcessProbe()
        var cProbe = probe.probe
        var backend = box?.backend ?? rv_backend()
        let ids = objects.keys.sorted()
        var error = rv_error()
        let doc: UnsafeMutablePointer<CChar>? = pixels.withUnsafeBufferPointer { p in
            withBytePointers(ids.map { objects[$0]! }) { maskPointers in
                let frameSize = width * height * 4
                let framePointers: [UnsafePointer<UInt8>?] = (0..<files.count).map { p.baseAddress! + $0 * frameSize }
                return withUnsafePointer(to: &backend) { backendPointer in
                    rv_benchmark(options, framePointers, Int32(files.count), Int32(width), Int32(height), Int32(RV_RGBA),
                                 Int64(width * 4), ids.map(Int32.init), maskPointers, Int32(ids.count),
                                 box == nil ? nil : backendPointer, &cProbe, &error)
                }
            }
        }
        withExtendedLifetime((box, probe)) {}
        guard let doc else { throw ReuseVOSError(description: Tracker.message(&error)) }
        defer { rv_free(doc) }
        return String(cString: doc)
    }
}
