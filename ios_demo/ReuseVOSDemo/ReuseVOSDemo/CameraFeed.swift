import AVFoundation
import CoreVideo

/// The back camera as 32BGRA pixel buffers (what the tracker reads in place), portrait, late frames dropped:
/// `onFrame` runs on one serial queue, so at most one frame is being tracked at a time.
final class CameraFeed: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    let session = AVCaptureSession()
    private let queue = DispatchQueue(label: "org.reusevos.camera")
    var onFrame: ((CVPixelBuffer) -> Void)?

    /// Configures and starts the session; a message when there is no camera or no permission.
    func start() async -> String? {
        guard await AVCaptureDevice.requestAccess(for: .video) else { return "camera: permission denied (Settings > ReuseVOS)" }
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back),
              let input = try? AVCaptureDeviceInput(device: device) else { return "camera: no back camera" }
        session.beginConfiguration()
        session.sessionPreset = .hd1280x720
        let output = AVCaptureVideoDataOutput()
        output.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
        output.alwaysDiscardsLateVideoFrames = true
        output.setSampleBufferDelegate(self, queue: queue)
        guard session.canAddInput(input), session.canAddOutput(output) else {
            session.commitConfiguration()
            return "camera: cannot configure the capture session"
        }
        session.addInput(input)
        session.addOutput(output)
        if let connection = output.connection(with: .video), connection.isVideoRotationAngleSupported(90) {
            connection.videoRotationAngle = 90  // portrait buffers, as the screen shows them
        }
        session.commitConfiguration()
        queue.async { self.session.startRunning() }
        return nil
    }

    func stop() { queue.async { self.session.stopRunning() } }

    /// Runs `block` on the frames' queue, after the frames already queued.
    func perform(_ block: @escaping () -> Void) { queue.async(execute: block) }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let buffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        onFrame?(buffer)
    }
}
