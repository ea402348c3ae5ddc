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
        try self.init(bundle: bundle, box: RunnerBox(name: "\(type(of: runner))", runner: runner), tau: tau,
                      keyframeBound: keyframeBound)
    }

    convenience init(bundle: String, box: RunnerBox, tau: Double?, keyframeBound: Int?) throws {
        var backend = box.backend
        var error = rv_error()
        guard let handle = rv_tracker_open_with(bundle, &backend, tau ?? .nan, Int32(keyframeBound ?? Int(Int32.min)), &error)
        else { throw ReuseVOSError(description: Tracker.message(&error)) }
        self.init(handle: handle, keepAlive: box)
    }
}

/// A Swift runner behind the core's C callbacks (rv_backend). Made with a runner, or with a factory the core
/// calls when it loads the bundle (so the benchmark's timed load includes, e.g., compiling Core ML models).
final class RunnerBox {
    private let make: () throws -> SubgraphRunner
    private var runner: SubgraphRunner?
    private let name: UnsafeMutablePointer<CChar>

    init(name: String, make: @escaping () throws -> SubgraphRunner) {
        self.make = make
        self.name = strdup(name)
    }

    convenience init(name: String, runner: SubgraphRunner) {
        self.init(name: name, make: { runner })
        self.runner = runner
    }

    deinit { free(name) }

    /// Valid while this box lives.
    var backend: rv_backend {
        rv_backend(context: Unmanaged.passUnretained(self).toOpaque(), run: runTrampoline, name: UnsafePointer(name),
                   load: loadTrampoline)
    }

    fileprivate func load() throws {
        if runner == nil { runner = try make() }
    }

    fileprivate func run(_ subgraph: String, _ inputs: [TensorView], _ outputs: [TensorView]) throws {
        try load()
        try runner!.run(subgraph: subgraph, inputs: inputs, outputs: outputs)
    }
}

private func views(_ tensors: UnsafePointer<rv_tensor>?, _ count: Int32) -> [TensorView] {
    guard let tensors else { return [] }
    return (0..<Int(count)).map { k in
        let t = tensors[k]
        return TensorView(name: String(cString: t.name), shape: (0..<Int(t.rank)).map { Int(t.shape[$0]) },
                          data: UnsafeMutableBufferPointer(start: t.data, count: Int(t.count)))
    }
}

/// `body`'s throw as the C status (1) and message the core reports.
private func reported(_ message: UnsafeMutablePointer<CChar>?, _ size: Int, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch {
        let text = Array("\(error)".utf8CString.prefix(max(size - 1, 0))) + [0]
        text.withUnsafeBufferPointer { source in message?.update(from: source.baseAddress!, count: min(text.count, size)) }
        return 1
    }
}

private func box(_ context: UnsafeMutableRawPointer?) -> RunnerBox {
    Unmanaged<RunnerBox>.fromOpaque(context!).takeUnretainedValue()
}

private let runTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<rv_tensor>?,
                                           Int32, UnsafeMutablePointer<rv_tensor>?, Int32,
                                           UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    context, subgraph, inputs, numInputs, outputs, numOutputs, message, messageSize in
    reported(message, messageSize) {
        try box(context).run(String(cString: subgraph!), views(inputs, numInputs), views(UnsafePointer(outputs), numOutputs))
    }
}

private let loadTrampoline: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    context, message, messageSize in
    reported(message, messageSize) { try box(context).load() }
}
