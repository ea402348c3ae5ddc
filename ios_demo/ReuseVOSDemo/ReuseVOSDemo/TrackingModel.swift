import CoreImage
import CoreVideo
import Foundation
import ReuseVOSKit
import SwiftUI

/// The live tracker's state. Camera frames arrive on the camera queue, where the tracker runs (one frame at a
/// time, from that one queue); what the screen shows is published on the main actor.
final class TrackingModel: ObservableObject {
    enum Phase { case live, frozen, tracking }

    @Published var phase = Phase.live
    @Published var bundles: [URL] = []
    @Published var selected: URL? { didSet { bundleTau = selected.flatMap { try? BundleManifest(bundle: $0).tracker?.tau } } }
    @Published var bundleTau: Double?
    @Published var tau: Double?  // nil: the bundle's own
    @Published var keyframeBound = ""  // empty: the bundle's own
    @Published var strokes = ObjectStrokes()
    @Published var frozenImage: CGImage?
    @Published var overlay: CGImage?
    @Published var status = "Freeze a frame, draw the object, Start"
    @Published var error: String?

    let camera = CameraFeed()
    private var frozenBuffer: CVPixelBuffer?
    private var stats = TrackStats()
    private let context = CIContext()

    /// What the camera queue reads, under `lock`: the run's tracker (used on the camera queue only), whether
    /// its first (frozen) frame has been tracked, a run number (results of an older run are dropped).
    private struct Live {
        var tracker: Tracker?
        var started = false
        var run = 0
        var latest: CVPixelBuffer?
    }
    private let lock = NSLock()
    private var live = Live()

    init() {
        bundles = TrackingModel.findBundles()
        selected = bundles.first
        bundleTau = selected.flatMap { try? BundleManifest(bundle: $0).tracker?.tau }  // didSet does not run in init
        camera.onFrame = { [weak self] buffer in self?.frame(buffer) }
    }

    /// Bundles in Documents/reusevos/bundles (copied there by reusevos-bench or Finder) and in the app.
    static func findBundles() -> [URL] {
        let documents = URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent("Documents/reusevos/bundles")
        let folders = [documents, Bundle.main.resourceURL?.appendingPathComponent("bundles")].compactMap { $0 }
        return folders.flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("manifest.json").path) }
        }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @MainActor func start() async {
        if let message = await camera.start() { error = message }
    }

    @MainActor func freeze() {
        guard let buffer = lock.withLock({ live.latest }) else { return error = "no camera frame yet" }
        frozenBuffer = buffer
        frozenImage = context.createCGImage(CIImage(cvPixelBuffer: buffer), from: CGRect(
            x: 0, y: 0, width: CVPixelBufferGetWidth(buffer), height: CVPixelBufferGetHeight(buffer)))
        strokes.clear()
        overlay = nil
        phase = .frozen
    }

    /// Opens the tracker with the slider's tau and the bound field, and starts from the frozen frame's drawing.
    @MainActor func startTracking() {
        guard let bundle = selected else { return error = "no bundle: copy one into Documents/reusevos/bundles" }
        guard let buffer = frozenBuffer, !strokes.isEmpty else { return error = "draw the object on a frozen frame first" }
        let bound = Int(keyframeBound)
        guard keyframeBound.isEmpty || bound != nil else { return error = "keyframe bound: expected an integer" }
        let tracker: Tracker
        do {
            tracker = try Tracker.open(bundle: bundle, computeUnits: .all, tau: tau, keyframeBound: bound)
        } catch {
            self.error = "\(error)"
            return
        }
        error = nil
        stats.reset()
        let objects = strokes.masks(width: CVPixelBufferGetWidth(buffer), height: CVPixelBufferGetHeight(buffer))
        let run = lock.withLock { () -> Int in
            live = Live(tracker: tracker, started: false, run: live.run + 1, latest: live.latest)
            return live.run
        }
        frozenImage = nil
        phase = .tracking
        camera.perform { self.track(buffer, objects: objects, run: run) }  // the first frame is the one drawn on
    }

    @MainActor func stop() {
        lock.withLock { live = Live(tracker: nil, started: false, run: live.run + 1, latest: live.latest) }
        phase = .live
        overlay = nil
    }

    /// On the camera queue: keep the latest frame; once the run's first frame is tracked, track it.
    private func frame(_ buffer: CVPixelBuffer) {
        let run: Int? = lock.withLock {
            live.latest = buffer
            return live.tracker != nil && live.started ? live.run : nil
        }
        if let run { track(buffer, objects: [:], run: run) }
    }

    /// On the camera queue.
    private func track(_ buffer: CVPixelBuffer, objects: [Int: [UInt8]], run: Int) {
        let current: Tracker? = lock.withLock {
            guard live.run == run else { return nil }
            if !objects.isEmpty { live.started = true }
            return live.tracker
        }
        guard let tracker = current else { return }
        let started = Date()
        do {
            let result = try tracker.step(pixelBuffer: buffer, newObjects: objects)
            let ms = Date().timeIntervalSince(started) * 1000
            let image = TrackingModel.overlayImage(result)
            DispatchQueue.main.async {
                guard self.lock.withLock({ self.live.run }) == run else { return }
                self.stats.add(finishedAt: Date().timeIntervalSinceReferenceDate, stepMs: ms, record: result.record)
                self.status = self.stats.line
                self.overlay = image
            }
        } catch {
            DispatchQueue.main.async {
                self.error = "\(error)"
                self.stop()
            }
        }
    }

    static func overlayImage(_ result: FrameResult) -> CGImage? {
        let rgba = Overlay.render(labels: result.labels)
        guard let provider = CGDataProvider(data: Data(rgba) as CFData) else { return nil }
        return CGImage(width: result.width, height: result.height, bitsPerComponent: 8, bitsPerPixel: 32,
                       bytesPerRow: result.width * 4, space: CGColorSpaceCreateDeviceRGB(),
                       bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.premultipliedLast.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)
    }
}
