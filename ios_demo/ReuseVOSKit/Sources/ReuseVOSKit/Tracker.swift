import CReuseVOS
import Foundation

/// A failure the native core reported; the message names the bad input (bundle, frame, mask, object id).
public struct ReuseVOSError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(description: String) { self.description = description }
}

/// One object's outcome on one frame: decision "init", "compute" or "reuse" (the Python tracker's record).
public struct ObjectRecord: Decodable, Equatable {
    public let pGate: Double?
    public let decision: String
    public let forced: String?

    enum CodingKeys: String, CodingKey {
        case pGate = "p_gate", decision, forced
    }
}

/// What happened on one frame: per-object outcomes (by id) and the subgraphs that ran, in order.
public struct FrameRecord: Decodable, Equatable {
    public let frame: Int
    public let objects: [String: ObjectRecord]
    public let ran: [String]
}

/// One tracked frame: object ids per pixel at the frame size (row-major) and the frame's record.
public struct FrameResult {
    public let labels: [UInt8]
    public let width: Int
    public let height: Int
    public let record: FrameRecord
    public let recordJSON: String
}

/// How a frame's pixels are laid out: interleaved uint8, alpha ignored. `bgra` is what iOS cameras deliver
/// (kCVPixelFormatType_32BGRA), read in place by the core.
public enum PixelFormat: Int32 {
    case rgb = 3, rgba = 4, bgra = 0x14

    public var bytesPerPixel: Int { self == .rgb ? 3 : 4 }
}

/// The native tracker core over a bundle (its ExecuTorch program, or a `SubgraphRunner` such as Core ML):
/// one instance per video stream, used from one thread at a time. Bad input throws ReuseVOSError and leaves the tracker unchanged.
public final class Tracker {
    private let handle: OpaquePointer
    private let keepAlive: AnyObject?  // a SubgraphRunner the core calls back into

    /// Opens and verifies an ExecuTorch bundle (every file's sha256); `Tracker.open(bundle:)` takes any bundle
    /// ReuseVOSKit runs. `tau` / `keyframeBound`: nil for the bundle's own (a negative bound: none);
    /// `threads`: 0 for the runtime's default.
    public init(bundle: String, tau: Double? = nil, keyframeBound: Int? = nil, threads: Int = 0) throws {
        var error = rv_error()
        guard let h = rv_tracker_open(bundle, tau ?? .nan, Int32(keyframeBound ?? Int(Int32.min)), Int32(threads), &error)
        else { throw ReuseVOSError(description: Tracker.message(&error)) }
        handle = h
        keepAlive = nil
    }

    init(handle: OpaquePointer, keepAlive: AnyObject) {
        self.handle = handle
        self.keepAlive = keepAlive
    }

    deinit { rv_tracker_close(handle) }

    /// Tracks one frame of `format` pixels in rows `rowStride` bytes apart; `newObjects` starts objects
    /// (id 1...254 -> width*height bytes, nonzero = object) on this frame.
    public func step(pixels: UnsafeRawBufferPointer, width: Int, height: Int, format: PixelFormat = .rgba, rowStride: Int,
                     newObjects: [Int: [UInt8]] = [:]) throws -> FrameResult {
        guard height > 0, width > 0, pixels.count >= rowStride * (height - 1) + width * format.bytesPerPixel else {
            throw ReuseVOSError(description: "pixels: \(pixels.count) bytes cannot hold \(width)x\(height) \(format) "
                + "with row stride \(rowStride)")
        }
        let ids = newObjects.keys.sorted()
        let masks = ids.map { newObjects[$0]! }
        guard masks.allSatisfy({ $0.count == width * height }) else {
            throw ReuseVOSError(description: "new object masks: expected \(width * height) bytes each (the frame's pixels)")
        }
        var labels = [UInt8](repeating: 0, count: width * height)
        var error = rv_error()
        var record: UnsafePointer<CChar>?
        let status: Int32 = withBytePointers(masks) { maskPointers in
            ids.map(Int32.init).withUnsafeBufferPointer { idPointer in
                labels.withUnsafeMutableBufferPointer { out in
                    rv_tracker_step(handle, pixels.bindMemory(to: UInt8.self).baseAddress, Int32(width), Int32(height),
                                    format.rawValue, Int64(rowStride), idPointer.baseAddress, maskPointers,
                                    Int32(ids.count), out.baseAddress, &record, &error)
                }
            }
        }
        guard status == 0, let record else { throw ReuseVOSError(description: Tracker.message(&error)) }
        let json = String(cString: record)
        let decoded = try JSONDecoder().decode(FrameRecord.self, from: Data(json.utf8))
        return FrameResult(labels: labels, width: width, height: height, record: decoded, recordJSON: json)
    }

    /// Tracks a decoded frame (`RGBAImage`).
    public func step(_ image: RGBAImage, newObjects: [Int: [UInt8]] = [:]) throws -> FrameResult {
        try image.pixels.withUnsafeBytes {
            try step(pixels: $0, width: image.width, height: image.height, format: .rgba, rowStride: image.rowStride,
                     newObjects: newObjects)
        }
    }

    /// Forgets every object: the next frame starts a new video.
    public func reset() { rv_tracker_reset(handle) }

    public func removeObject(_ id: Int) throws {
        var error = rv_error()
        if rv_tracker_remove_object(handle, Int32(id), &error) != 0 {
            throw ReuseVOSError(description: Tracker.message(&error))
        }
    }

    public var objectIDs: [Int] {
        var ids = [Int32](repeating: 0, count: 256)
        let n = rv_tracker_object_ids(handle, &ids, Int32(ids.count))
        return ids.prefix(Int(n)).map(Int.init)
    }

    static func message(_ error: inout rv_error) -> String {
        var text = error.message  // a fixed-size C char array (a tuple in Swift), NUL-terminated
        let capacity = MemoryLayout.size(ofValue: text)
        return withUnsafePointer(to: &text) { $0.withMemoryRebound(to: CChar.self, capacity: capacity) { String(cString: $0) } }
    }
}

/// Stable pointers to each array's bytes (masks) for the duration of `body`.
func withBytePointers<R>(_ arrays: [[UInt8]], _ body: (UnsafePointer<UnsafePointer<UInt8>?>?) -> R) -> R {
    let copies = arrays.map { mask -> UnsafeMutablePointer<UInt8> in
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(mask.count, 1))
        p.initialize(from: mask, count: mask.count)
        return p
    }
    defer { copies.forEach { $0.deallocate() } }
    let pointers: [UnsafePointer<UInt8>?] = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}
