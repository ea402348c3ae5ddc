import Foundation

enum Files {
    /// Writes `data` to `url` through a temporary file renamed into place (Foundation's atomic write):
    /// a reader never sees a half-written file, and a failure leaves nothing behind.
    static func atomicWrite(_ data: Data, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw ReuseVOSError(description: "\(url.path): cannot write (\(error.localizedDescription))")
        }
    }
}
