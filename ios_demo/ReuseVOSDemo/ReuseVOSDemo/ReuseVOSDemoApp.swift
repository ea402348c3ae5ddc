import Foundation
import ReuseVOSKit
import SwiftUI

/// The demo app. Launched with benchmark arguments (`--bundle ... --frames ... --mask ...`, as
/// `reusevos-bench --device ios` sends them through `xcrun devicectl device process launch --console`), it runs
/// the benchmark mode, writes Documents/reusevos/bench/<out> and exits; otherwise it is the live tracker.
@main
struct ReuseVOSDemoApp: App {
    var body: some Scene {
        WindowGroup {
            if BenchmarkRequest.requested(CommandLine.arguments) {
                BenchmarkView(arguments: CommandLine.arguments)
            } else {
                ContentView()
            }
        }
    }
}

/// Runs the benchmark off the main thread, shows where the result went, and exits (devicectl waits for it).
struct BenchmarkView: View {
    let arguments: [String]
    @State private var status = "benchmarking..."

    var body: some View {
        Text(status).font(.system(.body, design: .monospaced)).padding()
            .task {
                let home = URL(fileURLWithPath: NSHomeDirectory())
                let outcome: String = await Task.detached(priority: .userInitiated) {
                    do {
                        return "wrote " + (try BenchmarkMode.run(arguments: arguments, home: home)).path
                    } catch {
                        return "error: \(error)"  // also in the result file the harness reads
                    }
                }.value
                status = outcome
                print(outcome)
                exit(outcome.hasPrefix("error") ? 1 : 0)
            }
    }
}
