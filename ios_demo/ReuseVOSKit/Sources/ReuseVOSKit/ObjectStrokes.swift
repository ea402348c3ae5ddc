/// What the user draws over the frozen first frame: brush strokes per object id, in normalised coordinates
/// (0...1 across the frame, so the view's size does not matter); `masks` rasterises them at the tracker's
/// frame size. A tap is a one-point stroke (a dot).
public struct ObjectStrokes {
    public struct Stroke {
        public let id: Int
        public var points: [(x: Double, y: Double)]
    }

    public private(set) var strokes: [Stroke] = []
    public private(set) var objectID = 1
    /// Brush radius as a fraction of the frame's width.
    public var radius = 0.03

    public init() {}

    public var isEmpty: Bool { strokes.isEmpty }

    public mutating func begin(x: Double, y: Double) { strokes.append(Stroke(id: objectID, points: [(x, y)])) }

    public mutating func extend(x: Double, y: Double) {
        guard !strokes.isEmpty else { return begin(x: x, y: y) }
        strokes[strokes.count - 1].points.append((x, y))
    }

    /// The next strokes paint a new object (once the current one has any).
    public mutating func nextObject() {
        if strokes.contains(where: { $0.id == objectID }), objectID < 254 { objectID += 1 }
    }

    public mutating func clear() {
        strokes.removeAll()
        objectID = 1
    }

    /// id -> width * height bytes (1 = object): discs of the brush along each stroke's segments; a later
    /// object painted over an earlier one takes the pixel.
    public func masks(width: Int, height: Int) -> [Int: [UInt8]] {
        var ids = [UInt8](repeating: 0, count: width * height)
        let r = max(radius * Double(width), 1), r2 = r * r
        for stroke in strokes {
            let points = stroke.points.map { (x: $0.x * Double(width), y: $0.y * Double(height)) }
            for (k, a) in points.enumerated() {
                let b = k + 1 < points.count ? points[k + 1] : a
                let x0 = max(Int(min(a.x, b.x) - r), 0), x1 = min(Int(max(a.x, b.x) + r), width - 1)
                let y0 = max(Int(min(a.y, b.y) - r), 0), y1 = min(Int(max(a.y, b.y) + r), height - 1)
                guard x0 <= x1, y0 <= y1 else { continue }
                let dx = b.x - a.x, dy = b.y - a.y, length2 = dx * dx + dy * dy
                for y in y0...y1 {
                    for x in x0...x1 {
                        let px = Double(x) + 0.5, py = Double(y) + 0.5
                        let t = length2 > 0 ? min(max(((px - a.x) * dx + (py - a.y) * dy) / length2, 0), 1) : 0
                        let ex = px - (a.x + t * dx), ey = py - (a.y + t * dy)
                        if ex * ex + ey * ey <= r2 { ids[y * width + x] = UInt8(stroke.id) }
                    }
                }
            }
        }
        var out: [Int: [UInt8]] = [:]
        for id in Set(strokes.map(\.id)) {
            let mask = ids.map { $0 == UInt8(id) ? UInt8(1) : 0 }
            if mask.contains(1) { out[id] = mask }
        }
        return out
    }
}
