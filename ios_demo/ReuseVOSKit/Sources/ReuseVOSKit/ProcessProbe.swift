import CReuseVOS
import Foundation
#if canImport(Darwin)
import Darwin
#endif

/// The benchmark's readings of this process around the timed clip (the core's rv_probe): peak memory and
/// the thermal state before and after. On iOS the memory is the peak physical footprint (what jetsam
/// counts; task_vm_info), and there is no energy counter an app can read: the energy stays null with that
/// reason and the core's CPU time per frame is the proxy. On Linux (CI) the memory is VmHWM.
final class ProcessProbe {
    private var thermalBefore = ProcessProbe.thermalState()
    private var reading: UnsafeMutablePointer<CChar>?

    deinit { free(reading) }

    /// Valid while this probe lives.
    var probe: rv_probe {
        rv_probe(context: Unmanaged.passUnretained(self).toOpaque(), begin: probeBegin, end: probeEnd)
    }

    fileprivate func begin() { thermalBefore = ProcessProbe.thermalState() }

    fileprivate func end() -> UnsafePointer<CChar>? {
        var members: [String: Any] = [
            "joules_per_frame": NSNull(),
            "energy_source": ProcessProbe.energySource,
            "thermal_state": "\(thermalBefore) -> \(ProcessProbe.thermalState())",
        ]
        if let (mb, source) = ProcessProbe.peakMemory() {
            members["peak_memory_mb"] = mb
            members["memory_source"] = source
        }
        let data = (try? JSONSerialization.data(withJSONObject: members, options: [.sortedKeys])) ?? Data("{}".utf8)
        free(reading)
        reading = strdup(String(decoding: data, as: UTF8.self))
        return UnsafePointer(reading)
    }

    #if os(iOS) || os(macOS) || os(tvOS) || os(visionOS)
    static let energySource = "unavailable: iOS exposes no energy counter to apps (cpu_seconds_per_frame is the proxy; "
        + "measure with the Instruments Power Profiler)"

    static func thermalState() -> String {
        switch ProcessInfo.processInfo.thermalState {
        case .nominal: return "nominal"
        case .fair: return "fair"
        case .serious: return "serious"
        case .critical: return "critical"
        @unknown default: return "unknown"
        }
    }

    /// The peak physical footprint (task_vm_info ledger_phys_footprint_peak).
    static func peakMemory() -> (Double, String)? {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let status = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) { task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count) }
        }
        guard status == KERN_SUCCESS else { return nil }
        return (Double(info.ledger_phys_footprint_peak) / (1024 * 1024), "peak physical footprint (task_vm_info)")
    }
    #else
    static let energySource = "unavailable: the Swift benchmark mode reads no energy counter off Apple platforms"

    static func thermalState() -> String { "unknown" }

    /// VmHWM, this process's peak resident memory.
    static func peakMemory() -> (Double, String)? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return (kib / 1024, "peak resident memory (VmHWM)")
    }
    #endif
}

private let probeBegin: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
    Unmanaged<ProcessProbe>.fromOpaque(context!).takeUnretainedValue().begin()
}

private let probeEnd: @convention(c) (UnsafeMutableRawPointer?, Int32) -> UnsafePointer<CChar>? = { context, _ in
    Unmanaged<ProcessProbe>.fromOpaque(context!).takeUnretainedValue().end()
}
