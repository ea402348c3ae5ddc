import Foundation

/// The benchmark mode's launch arguments, what `reusevos-bench --device ios` passes through
/// `xcrun devicectl device process launch ... -- org.reusevos.demo --bundle B --frames F ...`
/// (reusevos_edge/bench/phone.py): `bundle`, `frames` (folder of numbered JPEGs), `mask` (first-frame palette
/// PNG), `frame_count`, `threads`, `warmup` (ints), `cooldown_s`, `tau` (numbers; tau only when overridden)
/// and `out` (result file name under Documents/reusevos/bench/). Relative paths are inside the app's home.
public struct BenchmarkRequest: Equatable {
    public var bundle: String
    public var frames: String
    public var mask: String
    public var frameCount = 0
    public var threads = 1
    public var warmup = 3
    public var cooldownS = 2.0
    public var tau: Double?
    public var out = BenchmarkRequest.defaultOut

    public static let defaultOut = "bench.json"
    public static let keys = ["bundle", "frames", "mask", "frame_count", "threads", "warmup", "cooldown_s", "tau", "out"]

    public init(bundle: String, frames: String, mask: String) {
        self.bundle = bundle
        self.frames = frames
        self.mask = mask
    }

    /// From the process arguments: nil when there is no `--name value` pair (the interactive app), else the
    /// request; ReuseVOSError naming the first bad argument. Single-dash pairs (`-NSZombieEnabled YES`, what
    /// Xcode adds) are left alone.
    public static func parse(_ arguments: [String]) throws -> BenchmarkRequest? {
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            guard arg.hasPrefix("--") else { i += 1; continue }
            let key = String(arg.dropFirst(2))
            guard keys.contains(key) else {
                throw ReuseVOSError(description: "argument \(arg): unknown; expected some of \(keys.map { "--" + $0 })")
            }
            guard i + 1 < arguments.count else { throw ReuseVOSError(description: "argument \(arg): missing its value") }
            values[key] = arguments[i + 1]
            i += 2
        }
        if values.isEmpty { return nil }
        func text(_ key: String, _ what: String) throws -> String {
            guard let v = values[key], !v.isEmpty else {
                throw ReuseVOSError(description: "argument --\(key): missing; expected \(what)")
            }
            return v
        }
        func int(_ key: String, _ fallback: Int) throws -> Int {
            guard let raw = values[key] else { return fallback }
            guard let v = Int(raw), v >= 0 else {
                throw ReuseVOSError(description: "argument --\(key): expected an integer >= 0, got \"\(raw)\"")
            }
            return v
        }
        func number(_ key: String) throws -> Double? {
            guard let raw = values[key] else { return nil }
            guard let v = Double(raw), v.isFinite else {
                throw ReuseVOSError(description: "argument --\(key): expected a number, got \"\(raw)\"")
            }
            return v
        }
        var r = BenchmarkRequest(bundle: try text("bundle", "the bundle folder"),
                                 frames: try text("frames", "a folder of numbered JPEG frames"),
                                 mask: try text("mask", "the first frame's palette PNG"))
        r.frameCount = try int("frame_count", 0)
        r.threads = try int("threads", 1)
        r.warmup = try int("warmup", 3)
        r.cooldownS = try number("cooldown_s") ?? 2.0
        guard r.cooldownS >= 0 else {
            throw ReuseVOSError(description: "argument --cooldown_s: expected seconds >= 0, got \(r.cooldownS)")
        }
        r.tau = try number("tau")
        if let tau = r.tau, !(0...1).contains(tau) {
            throw ReuseVOSError(description: "argument --tau: expected a threshold in [0, 1], got \(tau)")
        }
        r.out = values["out"] ?? defaultOut
        guard isResultName(r.out) else {
            throw ReuseVOSError(description: "argument --out: expected a file name ending in .json (no folder), got \"\(r.out)\"")
        }
        return r
    }

    /// Whether the app was launched for a benchmark: any `--name` argument (Xcode's own are single-dash).
    public static func requested(_ arguments: [String]) -> Bool { arguments.contains { $0.hasPrefix("--") } }

    /// A result file name the app writes under Documents/reusevos/bench/: NAME.json, no folder.
    public static func isResultName(_ name: String) -> Bool { name.hasSuffix(".json") && name.count > 5 && !name.contains("/") }

    /// The options JSON of the core's benchmark (BenchmarkOptions::from_json), with the bundle's full path.
    func optionsJSON(bundlePath: String) throws -> String {
        var options: [String: Any] = ["bundle": bundlePath, "name": String(out.dropLast(5)), "frame_count": frameCount,
                                      "threads": threads, "warmup": warmup, "cooldown_s": cooldownS]
        options["tau"] = tau ?? NSNull()
        return String(decoding: try JSONSerialization.data(withJSONObject: options, options: [.sortedKeys]), as: UTF8.self)
    }
}
