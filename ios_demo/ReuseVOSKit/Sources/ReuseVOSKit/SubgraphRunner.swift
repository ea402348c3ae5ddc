import CReuseVOS
import Foundation

/// One float32 tensor of a subgraph call (row-major, the manifest's shape), borrowed for the call only.
public struct TensorView {
    public let name: String
    public let shape: [Int]
    public let data: UnsafeMutableBufferPointer<Float>
}

/// Runs the bundle's subgraphs for the native tracker: the core calls `run` with the inputs in contract
/// order and outputs it has allocated from the manifest's shapes, which `run` fills. Core ML is one
/// (`CoreMLRunner`); a throw becomes a ReuseVOSError naming the subgraph, the tracker stays usable.
public protocol SubgraphRunner: AnyObject {
    func run(subgraph: String, inputs: [TensorView], outputs: [TensorView]) throws
}

extension Tracker {
    /// The tracker over the bundle at `bundle` (any target; its manifest and checksums verified) with
    /// `runner` executing the subgraphs. The tracker keeps the runner alive.
    public convenience init(bundle: String, runner: SubgraphRunner, tau: Double? = nil, keyframeBound: Int? = nil) throws {
        let box = RunnerBox(runner)
        var backend = rv_backend(context: Unmanaged.passUnretained(box).toOpaque(), run: runnerTrampoline)
        var error = rv_error()
        guard let handle = rv_tracker_open_with(bundle, &backend, tau ?? .nan, Int32(keyframeBound ?? Int(Int32.min)), &error)
        else { throw ReuseVOSError(description: Tracker.message(&error)) }
        self.init(handle: handle, keepAlive: box)
    }
}

final class RunnerBox {
    let runner: SubgraphRunner
    init(_ runner: SubgraphRunner) { self.runner = runner }
}

private func views(_ tensors: UnsafePointer<rv_tensor>?, _ count: Int32) -> [TensorView] {
    guard let tensors else { return [] }
    return (0..<Int(count)).map { k in
        let t = tensors[k]
        return TensorView(name: String(cString: t.name), shape: (0..<Int(t.rank)).map { Int(t.shape[$0]) },
                          data: UnsafeMutableBufferPointer(start: t.data, count: Int(t.count)))
    }
}

/// The C callback: forwards to the Swift runner, turning a throw into the error text the core reports.
private let runnerTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<rv_tensor>?,
                                              Int32, UnsafeMutablePointer<rv_tensor>?, Int32,
                                              UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    context, subgraph, inputs, numInputs, outputs, numOutputs, message, messageSize in
    let box = Unmanaged<RunnerBox>.fromOpaque(context!).takeUnretainedValue()
    do {
        try box.runner.run(subgraph: String(cString: subgraph!), inputs: views(inputs, numInputs),
                           outputs: views(UnsafePointer(outputs), numOutputs))
        return 0
    } catch {
        let text = Array("\(error)".utf8CString.prefix(max(messageSize - 1, 0))) + [0]
        text.withUnsafeBufferPointer { source in
            message?.update(from: source.baseAddress!, count: min(text.count, messageSize))
        }
        return 1
    }
}
