import Foundation

/// What the app's status line says while tracking: FPS over the last frames, ms per frame, each object's
/// COMPUTED / REUSED decision on this frame, and the running reuse rate (reused / gated object-frames).
public struct TrackStats {
    private let window: Int
    private var finished: [Double] = []  // seconds, the last `window` frames
    private var lastMs = 0.0
    private var decisions: [(Int, String)] = []
    public private(set) var computed = 0
    public private(set) var reused = 0

    public init(window: Int = 30) { self.window = max(window, 2) }

    /// One tracked frame: when it finished (seconds, any monotonic clock), how long its step took and its record.
    public mutating func add(finishedAt seconds: Double, stepMs: Double, record: FrameRecord) {
        finished.append(seconds)
        if finished.count > window { finished.removeFirst(finished.count - window) }
        lastMs = stepMs
        decisions = record.objects.compactMap { key, o in Int(key).map { ($0, o.decision) } }.sorted { $0.0 < $1.0 }
        for (_, d) in decisions {
            if d == "compute" { computed += 1 }
            if d == "reuse" { reused += 1 }
        }
    }

    public mutating func reset() { self = TrackStats(window: window) }

    public var fps: Double {
        guard finished.count >= 2, let first = finished.first, let last = finished.last, last > first else { return 0 }
        return Double(finished.count - 1) / (last - first)
    }

    public var reuseRate: Double? { computed + reused == 0 ? nil : Double(reused) / Double(computed + reused) }

    /// "29.8 FPS  12.3 ms/frame  #1 REUSED  #2 COMPUTED  reuse 64 %"
    public var line: String {
        let objects = decisions.map { id, d in
            "#\(id) " + (d == "reuse" ? "REUSED" : d == "compute" ? "COMPUTED" : d.uppercased())
        }.joined(separator: "  ")
        let rate = reuseRate.map { String(format: "%.0f %%", 100 * $0) } ?? "-"
        return String(format: "%.1f FPS  %.1f ms/frame  ", fps, lastMs) + objects + "  reuse " + rate
    }
}
