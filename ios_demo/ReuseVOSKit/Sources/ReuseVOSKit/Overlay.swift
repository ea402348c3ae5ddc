/// Mask overlay colours: each object id in its DAVIS palette colour (the colours of the exported masks).
public enum Overlay {
    /// The DAVIS palette colour of `id` as [r, g, b]: bit 3k + c of the id sets bit 7 - k of channel c.
    public static func rgb(id: Int) -> [UInt8] {
        var r = 0, g = 0, b = 0, value = id
        for shift in stride(from: 7, through: 0, by: -1) {
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        }
        return [UInt8(r), UInt8(g), UInt8(b)]
    }

    /// Labels (object id per pixel) -> premultiplied RGBA pixels (4 bytes each) at `alpha`; background is
    /// transparent. What the app draws over the camera preview (a CGImage of the same size).
    public static func render(labels: [UInt8], alpha: UInt8 = 140) -> [UInt8] {
        var table = [[UInt8]](repeating: [0, 0, 0, 0], count: 256)
        for id in 1..<256 {
            let c = rgb(id: id).map { UInt8(Int($0) * Int(alpha) / 255) }
            table[id] = c + [alpha]
        }
        var out = [UInt8](repeating: 0, count: labels.count * 4)
        for (i, id) in labels.enumerated() where id != 0 {
            let c = table[Int(id)]
            out[4 * i] = c[0]
            out[4 * i + 1] = c[1]
            out[4 * i + 2] = c[2]
            out[4 * i + 3] = c[3]
        }
        return out
    }
}
