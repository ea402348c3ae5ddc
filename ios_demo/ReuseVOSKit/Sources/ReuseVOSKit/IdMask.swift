import CZlib
import Foundation

/// Object ids per pixel (row-major, `height * width` bytes, 0 = background) as DAVIS and `reusevos-bench`
/// write them: a palette PNG whose pixel values are the ids (a grayscale PNG is one object: nonzero = id 1).
/// Decoded here rather than with ImageIO, which turns a palette into colours and loses the ids.
public struct IdMask: Equatable {
    public let width: Int
    public let height: Int
    public let ids: [UInt8]

    public init(width: Int, height: Int, ids: [UInt8]) throws {
        guard width > 0, height > 0, ids.count == width * height else {
            throw ReuseVOSError(description: "IdMask: \(ids.count) ids do not fill \(width)x\(height)")
        }
        self.width = width
        self.height = height
        self.ids = ids
    }

    /// id -> 0/1 mask (1 = object) for every id present; 255 (DAVIS "void") is not an object.
    public func objectMasks() -> [Int: [UInt8]] {
        var out: [Int: [UInt8]] = [:]
        for (k, id) in ids.enumerated() where id != 0 && id != 255 {
            out[Int(id), default: [UInt8](repeating: 0, count: ids.count)][k] = 1
        }
        return out
    }

    /// Reads a palette (colour type 3) or grayscale (type 0) PNG of bit depth 1-8, not interlaced.
    public init(png url: URL) throws {
        guard let data = try? Data(contentsOf: url) else {
            throw ReuseVOSError(description: "mask \(url.path): no such file")
        }
        try self.init(png: [UInt8](data), what: "mask \(url.path)")
    }

    public init(png bytes: [UInt8], what: String) throws {
        func fail(_ why: String) -> ReuseVOSError {
            ReuseVOSError(description: "\(what): \(why); expected a palette or grayscale PNG of object ids")
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == PNG.signature else { throw fail("not a PNG file") }
        var pos = 8, width = 0, height = 0, depth = 0, type = -1
        var idat: [UInt8] = []
        while pos + 8 <= bytes.count {
            let length = PNG.int(bytes, pos), name = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let start = pos + 8
            guard length >= 0, start + length + 4 <= bytes.count else { throw fail("chunk \(name) is cut short") }
            switch name {
            case "IHDR":
                width = PNG.int(bytes, start)
                height = PNG.int(bytes, start + 4)
                depth = Int(bytes[start + 8])
                type = Int(bytes[start + 9])
                guard bytes[start + 12] == 0 else { throw fail("interlaced") }
            case "IDAT": idat += bytes[start..<(start + length)]
            default: break
            }
            if name == "IEND" { break }
            pos = start + length + 4
        }
        guard type == 0 || type == 3 else { throw fail("colour type \(type)") }
        guard [1, 2, 4, 8].contains(depth) else { throw fail("bit depth \(depth)") }
        guard width > 0, height > 0, width * height <= 1 << 28 else { throw fail("size \(width)x\(height)") }
        let rowBytes = (width * depth + 7) / 8
        let raw = try PNG.inflate(idat, expected: (rowBytes + 1) * height, what: what)
        let rows = try PNG.unfilter(raw, rowBytes: rowBytes, height: height, what: what)
        var ids = [UInt8](repeating: 0, count: width * height)
        let perByte = 8 / depth, maxValue = (1 << depth) - 1
        for y in 0..<height {
            for x in 0..<width {
                let byte = Int(rows[y * rowBytes + x / perByte])
                let value = (byte >> (8 - depth * (x % perByte + 1))) & maxValue
                // grayscale below 8 bits: scale to 0-255 as a viewer would (a 1-bit 0/1 mask becomes 0/255)
                ids[y * width + x] = UInt8(type == 0 && depth < 8 ? value * 255 / maxValue : value)
            }
        }
        if type == 0 {  // a 0/255 (or 0/1) binary mask: one object
            ids = ids.map { $0 == 0 ? 0 : 1 }
        }
        try self.init(width: width, height: height, ids: ids)
    }

    /// An 8-bit palette PNG of the ids with the DAVIS palette (what DAVIS and reusevos-export write).
    public func png() throws -> [UInt8] {
        var raw = [UInt8]()
        raw.reserveCapacity((width + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter: none
            raw += ids[(y * width)..<((y + 1) * width)]
        }
        var header = PNG.be32(width) + PNG.be32(height)
        header += [8, 3, 0, 0, 0]
        var palette = [UInt8]()
        for id in 0..<256 { palette += Overlay.rgb(id: id) }
        return PNG.signature + PNG.chunk("IHDR", header) + PNG.chunk("PLTE", palette)
            + PNG.chunk("IDAT", try PNG.deflate(raw)) + PNG.chunk("IEND", [])
    }

    /// Writes `png()` to `url` through a temporary file renamed into place.
    public func write(png url: URL) throws {
        try Files.atomicWrite(Data(try png()), to: url)
    }
}

/// The PNG container: chunks, zlib streams, row filters.
enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    static func int(_ b: [UInt8], _ at: Int) -> Int {
        Int(b[at]) << 24 | Int(b[at + 1]) << 16 | Int(b[at + 2]) << 8 | Int(b[at + 3])
    }

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    static func chunk(_ name: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(name.utf8) + data
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        return be32(data.count) + body + be32(Int(crc))
    }

    static func inflate(_ data: [UInt8], expected: Int, what: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expected)
        var length = uLongf(expected)
        let status = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in uncompress(o.baseAddress, &length, i.baseAddress, uLong(i.count)) }
        }
        guard status == Z_OK, Int(length) == expected else {
            throw ReuseVOSError(description: "\(what): the image data does not inflate to \(expected) bytes (zlib status \(status))")
        }
        return out
    }

    static func deflate(_ data: [UInt8]) throws -> [UInt8] {
        var length = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in compress2(o.baseAddress, &length, i.baseAddress, uLong(i.count), 6) }
        }
        guard status == Z_OK else { throw ReuseVOSError(description: "PNG: zlib compress2 failed (status \(status))") }
        return Array(out.prefix(Int(length)))
    }

    /// Undoes the per-row filters (bytes per pixel 1: every format decoded here has at most 8 bits a pixel).
    static func unfilter(_ raw: [UInt8], rowBytes: Int, height: Int, what: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)], src = y * (rowBytes + 1) + 1, dst = y * rowBytes
            for x in 0..<rowBytes {
                let a = x > 0 ? Int(out[dst + x - 1]) : 0, b = y > 0 ? Int(out[dst - rowBytes + x]) : 0
                let c = x > 0 && y > 0 ? Int(out[dst - rowBytes + x - 1]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default:
                    throw ReuseVOSError(description: "\(what): row \(y) has PNG filter \(filter); expected 0-4")
                }
                out[dst + x] = UInt8(truncatingIfNeeded: Int(raw[src + x]) + predictor)
            }
        }
        return out
    }
}
