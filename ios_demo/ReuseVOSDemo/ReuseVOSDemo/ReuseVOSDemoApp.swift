import Foundation
import ReuseVOSKit
import SwiftUI

/// The demo app. Launched with benchmark arguments (`--bundle ... --frames ... --mask ...`, as
/// `reusevos-bench --device ios` sends them through `xcrun devicectl device process launch --console`), it runs
/// the benchmark mode, writes Documents/reusevos/bench/<out> and exits; otherwise it is the live tracker.
@main
struct ReuseVOSDemoApp: App {
    private let benchmark: Result<BenchmarkRequest, Error>? = {
        do { return try BenchmarkRequest.parse(CommandLine.arguments).map { .success($0) } } catch { return .failure(error) }
    }()

    var body: some Scene {
        WindowGroup {
            if let benchmark {
                BenchmarkView(request: benchmark)
            } else {
                ContentView()
            }
        }
    }
}

/// Runs the benchmark off the main thread, shows where the result went, and exits (devicectl waits for it).
struct BenchmarkView: View {
    let request: Result<BenchmarkRequest, Error>
    @State private var status = "benchmarking..."

    var body: some View {
        Text(status).font(.system(.body, design: .monospaced)).padding()
            .task {
                let home = URL(fileURLWithPath: NSHomeDirectory())
                let outcome: String = await Task.detached(priority: .userInitiated) {
                    do {
                        let request = try request.get()
                        return "wrote " + (try BenchmarkMode.run(request, home: home)).path
                    } catch {
                        // bad arguments: the result file the harness reads says so
                        let out = (try? request.get().out) ?? BenchmarkRequest.defaultOut
                        let doc = try? JSONSerialization.data(withJSONObject: ["error": "\(error)"])
                        let url = BenchmarkMode.resultURL(home: home, out: out)
                        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                        try? doc?.write(to: url, options: .atomic)
                        return "error: \(error)"
                    }
                }.value
                status = outcome
                print(outcome)
                exit(outcome.hasPrefix("error") ? 1 : 0)
            }
    }
}
