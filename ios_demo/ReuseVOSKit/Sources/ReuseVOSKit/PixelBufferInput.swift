#if canImport(CoreVideo)
import CoreVideo
import Foundation

extension Tracker {
    /// Tracks a camera frame in place (no copy): a `kCVPixelFormatType_32BGRA` buffer (ask
    /// AVCaptureVideoDataOutput for it with `videoSettings`) or `kCVPixelFormatType_32RGBA`, locked read-only
    /// for the call. `newObjects` masks are width * height bytes of the buffer's size.
    public func step(pixelBuffer: CVPixelBuffer, newObjects: [Int: [UInt8]] = [:]) throws -> FrameResult {
        let type = CVPixelBufferGetPixelFormatType(pixelBuffer)
        let format: PixelFormat
        switch type {
        case kCVPixelFormatType_32BGRA: format = .bgra
        case kCVPixelFormatType_32RGBA: format = .rgba
        default:
            throw ReuseVOSError(description: "pixel buffer: format \(fourCC(type)); expected 32BGRA (set "
                + "kCVPixelBufferPixelFormatTypeKey: kCVPixelFormatType_32BGRA in the video output's videoSettings) or 32RGBA")
        }
        guard CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly) == kCVReturnSuccess else {
            throw ReuseVOSError(description: "pixel buffer: cannot lock its base address")
        }
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        let width = CVPixelBufferGetWidth(pixelBuffer), height = CVPixelBufferGetHeight(pixelBuffer)
        let stride = CVPixelBufferGetBytesPerRow(pixelBuffer)
        guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else {
            throw ReuseVOSError(description: "pixel buffer: no base address (a planar buffer?)")
        }
        return try step(pixels: UnsafeRawBufferPointer(start: base, count: stride * height), width: width, height: height,
                        format: format, rowStride: stride, newObjects: newObjects)
    }
}

private func fourCC(_ type: OSType) -> String {
    let bytes = [24, 16, 8, 0].map { UInt8((type >> $0) & 0xff) }
    return bytes.allSatisfy({ $0 >= 32 && $0 < 127 }) ? "'\(String(decoding: bytes, as: UTF8.self))'" : "\(type)"
}
#endif
