// reusevos-track: ReuseVOSKit from the command line (a Mac, or Linux with an ExecuTorch bundle).
//   reusevos-track track BUNDLE FRAMES MASK OUT [--tau T] [--compute-units all|cpuOnly|cpuAndGPU|cpuAndNeuralEngine] [--threads N]
//       tracks a folder of numbered frames from the first frame's palette PNG; writes OUT/NNNNN.png (palette
//       masks, DAVIS colours) and OUT/records.jsonl (the core's record per frame) via OUT.partial, renamed.
//   reusevos-track bench --bundle B --frames F --mask M [--frame_count N --threads N --warmup N --cooldown_s S
//       --tau T --out NAME.json] [--home DIR]    the app's benchmark mode (the same code), result under
//       DIR/Documents/reusevos/bench/ (DIR: the current folder); relative paths are inside DIR
//   reusevos-track coreml-plan BUNDLE            what CoreMLRunner loads from a Core ML bundle, as JSON
import Foundation
import ReuseVOSKit

func fail(_ message: String, usage: Bool = false) -> Never {
    FileHandle.standardError.write(Data("reusevos-track: \(message)\n".utf8))
    if usage { FileHandle.standardError.write(Data("usage: reusevos-track track|bench|coreml-plan ... (see the source header)\n".utf8)) }
    exit(2)
}

/// The output folder being written (removed if SIGINT or SIGTERM stops the run).
nonisolated(unsafe) var partialOutput: String?

func removePartialOnSignals() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig) { code in
            if let path = partialOutput { try? FileManager.default.removeItem(atPath: path) }
            exit(128 + code)
        }
    }
}

/// `--name value` options after the positional arguments.
func split(_ args: ArraySlice<String>, positional: Int, options: Set<String>) -> ([String], [String: String]) {
    let fixed = Array(args.prefix(positional))
    if fixed.count < positional || fixed.contains(where: { $0.hasPrefix("--") }) {
        fail("expected \(positional) arguments before the options", usage: true)
    }
    var values: [String: String] = [:]
    var rest = args.dropFirst(positional)
    while let key = rest.first {
        guard key.hasPrefix("--"), options.contains(String(key.dropFirst(2))), rest.count >= 2 else {
            fail("option \(key): unknown or without a value; expected \(options.sorted().map { "--" + $0 })")
        }
        values[String(key.dropFirst(2))] = rest.dropFirst().first!
        rest = rest.dropFirst(2)
    }
    return (fixed, values)
}

func track(_ args: ArraySlice<String>) throws {
    let (paths, options) = split(args, positional: 4, options: ["tau", "compute-units", "threads"])
    let (bundle, frames, mask, out) = (URL(fileURLWithPath: paths[0]), URL(fileURLWithPath: paths[1]),
                                       URL(fileURLWithPath: paths[2]), URL(fileURLWithPath: paths[3]))
    let tau = try options["tau"].map { v -> Double in
        guard let t = Double(v), (0...1).contains(t) else { throw ReuseVOSError(description: "--tau \(v): expected [0, 1]") }
        return t
    }
    guard let units = ComputeUnits(rawValue: options["compute-units"] ?? "all") else {
        throw ReuseVOSError(description: "--compute-units \(options["compute-units"]!): expected one of "
            + ComputeUnits.allCases.map(\.rawValue).joined(separator: ", "))
    }
    guard let threads = Int(options["threads"] ?? "0"), threads >= 0 else {
        throw ReuseVOSError(description: "--threads \(options["threads"]!): expected an integer >= 0")
    }
    let files = try FrameFolder.files(frames)
    let first = try IdMask(png: mask)  // every input checked before the bundle loads
    let tracker = try Tracker.open(bundle: bundle, computeUnits: units, tau: tau, threads: threads)
    let partial = out.deletingLastPathComponent().appendingPathComponent(out.lastPathComponent + ".partial")
    try? FileManager.default.removeItem(at: partial)
    partialOutput = partial.path
    removePartialOnSignals()
    defer {
        try? FileManager.default.removeItem(at: partial)  // a failed run leaves nothing; after the rename, a no-op
        partialOutput = nil
    }
    try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
    var records = ""
    var stats = TrackStats()
    let start = Date()
    for (index, file) in files.enumerated() {
        let image = try RGBAImage(contentsOf: file)
        if index == 0, first.width != image.width || first.height != image.height {
            throw ReuseVOSError(description: "mask \(mask.path): \(first.width)x\(first.height), the frames are \(image.width)x\(image.height)")
        }
        let t0 = Date()
        let result = try tracker.step(image, newObjects: index == 0 ? first.objectMasks() : [:])
        stats.add(finishedAt: Date().timeIntervalSince(start), stepMs: Date().timeIntervalSince(t0) * 1000, record: result.record)
        try IdMask(width: result.width, height: result.height, ids: result.labels)
            .write(png: partial.appendingPathComponent(String(format: "%05d.png", index)))
        records += result.recordJSON + "\n"
    }
    try Data(records.utf8).write(to: partial.appendingPathComponent("records.jsonl"))
    try? FileManager.default.removeItem(at: out)
    try FileManager.default.moveItem(at: partial, to: out)
    print("\(files.count) frames -> \(out.path): " + stats.line)
}

func bench(_ args: ArraySlice<String>) throws {
    var arguments = Array(args)
    var home = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    if let i = arguments.firstIndex(of: "--home") {
        guard i + 1 < arguments.count else { fail("option --home: missing its folder") }
        home = URL(fileURLWithPath: arguments[i + 1])
        arguments.removeSubrange(i...(i + 1))
    }
    print(try BenchmarkMode.run(arguments: arguments, home: home).path)
}

let argv = CommandLine.arguments
do {
    switch argv.count > 1 ? argv[1] : "" {
    case "track": try track(argv.dropFirst(2))
    case "bench": try bench(argv.dropFirst(2))
    case "coreml-plan":
        guard argv.count == 3 else { fail("coreml-plan takes one bundle folder", usage: true) }
        let bundle = URL(fileURLWithPath: argv[2])
        print(try CoreMLPlan(manifest: try BundleManifest(bundle: bundle), bundle: bundle.path).json())
    default: fail("unknown command \(argv.count > 1 ? argv[1] : "(none)")", usage: true)
    }
} catch {
    fail("\(error)")
}
