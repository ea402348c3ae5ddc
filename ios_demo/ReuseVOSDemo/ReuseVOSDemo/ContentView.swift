import AVFoundation
import ReuseVOSKit
import SwiftUI

/// Camera preview (or the frozen frame to draw on), the mask overlay, the status line and the controls.
struct ContentView: View {
    @StateObject private var model = TrackingModel()

    var body: some View {
        VStack(spacing: 8) {
            picture.aspectRatio(9.0 / 16.0, contentMode: .fit)  // the camera's portrait 720x1280 buffers
            Text(model.status).font(.system(.footnote, design: .monospaced)).lineLimit(1).minimumScaleFactor(0.5)
            if let error = model.error {
                Text(error).font(.footnote).foregroundColor(.red).lineLimit(3)
            }
            controls
        }
        .padding(8)
        .task { await model.start() }
    }

    private var picture: some View {
        GeometryReader { geometry in
            ZStack {
                if let frozen = model.frozenImage {
                    Image(decorative: frozen, scale: 1).resizable()
                } else {
                    CameraPreview(session: model.camera.session)
                }
                if let overlay = model.overlay {
                    Image(decorative: overlay, scale: 1).resizable().interpolation(.none)
                }
                if model.phase == .frozen {
                    StrokesView(strokes: model.strokes)
                        .contentShape(Rectangle())
                        .gesture(DragGesture(minimumDistance: 0).onChanged { drag in
                            let size = geometry.size
                            let (x, y) = (drag.location.x / size.width, drag.location.y / size.height)
                            if drag.translation == .zero { model.strokes.begin(x: x, y: y) } else { model.strokes.extend(x: x, y: y) }
                        })
                }
            }
        }
    }

    private var controls: some View {
        VStack(spacing: 6) {
            HStack {
                switch model.phase {
                case .live:
                    Button("Freeze") { model.freeze() }
                case .frozen:
                    Button("Next object") { model.strokes.nextObject() }
                    Button("Clear") { model.strokes.clear() }
                    Button("Start") { model.startTracking() }.disabled(model.strokes.isEmpty)
                case .tracking:
                    Button("Stop") { model.stop() }
                }
            }
            .buttonStyle(.borderedProminent)
            HStack {
                Text("tau").font(.footnote)
                Slider(value: Binding(get: { model.tau ?? model.bundleTau ?? 0.5 }, set: { model.tau = $0 }), in: 0...1)
                Text(model.tau.map { String(format: "%.2f", $0) } ?? "bundle's").font(.footnote.monospacedDigit())
                TextField("keyframe bound", text: $model.keyframeBound).keyboardType(.numberPad).frame(width: 90)
                    .font(.footnote)
            }
            .disabled(model.phase == .tracking)  // both apply when a run starts
            Picker("Bundle", selection: $model.selected) {
                ForEach(model.bundles, id: \.self) { Text($0.lastPathComponent).tag(Optional($0)) }
            }
            .disabled(model.phase == .tracking)
        }
    }
}

/// The strokes in each object's overlay colour.
struct StrokesView: View {
    let strokes: ObjectStrokes

    var body: some View {
        Canvas { context, size in
            for stroke in strokes.strokes {
                var path = Path()
                for (k, p) in stroke.points.enumerated() {
                    let point = CGPoint(x: p.x * size.width, y: p.y * size.height)
                    if k == 0 { path.move(to: point); path.addLine(to: point) } else { path.addLine(to: point) }
                }
                let rgb = Overlay.rgb(id: stroke.id).map { Double($0) / 255 }
                context.stroke(path, with: .color(Color(red: rgb[0], green: rgb[1], blue: rgb[2]).opacity(0.6)),
                               style: StrokeStyle(lineWidth: 2 * strokes.radius * size.width, lineCap: .round, lineJoin: .round))
            }
        }
    }
}

/// AVCaptureVideoPreviewLayer in SwiftUI, aspect-fit like the images drawn over it.
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var preview: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.preview.session = session
        view.preview.videoGravity = .resizeAspect
        return view
    }

    func updateUIView(_ view: PreviewView, context: Context) {}
}
