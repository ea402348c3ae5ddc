import Foundation
#if canImport(ImageIO)
import CoreGraphics
import ImageIO
#else
import CTurboJPEG
#endif

/// A decoded frame: RGBA bytes, `width * 4` bytes a row (alpha 255), what `Tracker.step` takes.
public struct RGBAImage {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public var rowStride: Int { width * 4 }

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 4, "RGBAImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Decodes a JPEG (any format ImageIO reads on Apple platforms; JPEG through TurboJPEG on Linux).
    public init(contentsOf url: URL) throws {
        guard let data = try? Data(contentsOf: url) else {
            throw ReuseVOSError(description: "frame \(url.path): no such file")
        }
        self = try RGBAImage.decode([UInt8](data), what: "frame \(url.path)")
    }

    #if canImport(ImageIO)
    static func decode(_ bytes: [UInt8], what: String) throws -> RGBAImage {
        guard let source = CGImageSourceCreateWithData(Data(bytes) as CFData, nil),
              let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else {
            throw ReuseVOSError(description: "\(what): not an image ImageIO can decode")
        }
        let width = image.width, height = image.height
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        let drawn: Bool = pixels.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                                          bytesPerRow: width * 4, space: CGColorSpaceCreateDeviceRGB(),
                                          bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) else { return false }
            context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))  // opaque frames: alpha 255
            return true
        }
        guard drawn else { throw ReuseVOSError(description: "\(what): cannot draw \(width)x\(height) into RGBA") }
        return RGBAImage(width: width, height: height, pixels: pixels)
    }
    #else
    static func decode(_ bytes: [UInt8], what: String) throws -> RGBAImage {
        guard let handle = tjInitDecompress() else { throw ReuseVOSError(description: "\(what): TurboJPEG failed to start") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        var input = bytes
        guard tjDecompressHeader3(handle, &input, UInt(input.count), &width, &height, &subsampling, &colorspace) == 0,
              width > 0, height > 0 else {
            throw ReuseVOSError(description: "\(what): not a JPEG file (on Linux frames must be JPEG)")
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 4)
        let status = tjDecompress2(handle, &input, UInt(input.count), &pixels, width, width * 4, height,
                                   Int32(TJPF_RGBA.rawValue), 0)
        guard status == 0 else {
            throw ReuseVOSError(description: "\(what): JPEG decoding failed (\(String(cString: tjGetErrorStr2(handle))))")
        }
        return RGBAImage(width: Int(width), height: Int(height), pixels: pixels)
    }
    #endif
}

/// A folder of numbered frames (NNNNN.jpg, as reusevos-bench and DAVIS name them), in name order.
public enum FrameFolder {
    public static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    public static func files(_ folder: URL) throws -> [URL] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw ReuseVOSError(description: "frames \(folder.path): no such folder")
        }
        let files = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) && !$0.hasPrefix(".") }
            .sorted().map { folder.appendingPathComponent($0) }
        guard !files.isEmpty else {
            throw ReuseVOSError(description: "frames \(folder.path): no .jpg/.png files; expected numbered frames (00000.jpg, ...)")
        }
        return files
    }
}
