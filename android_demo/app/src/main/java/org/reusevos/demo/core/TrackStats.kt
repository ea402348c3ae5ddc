package org.reusevos.demo.core

/**
 * What the on-screen line says while tracking: FPS over the last frames, ms/frame, each object's
 * COMPUTED/REUSED decision on this frame, and the running reuse rate (reused / gated object-frames).
 */
class TrackStats(private val window: Int = 30) {
    private val times = ArrayDeque<Long>()
    private var lastMs = 0.0
    private var decisions: List<Pair<Int, String>> = emptyList()
    var computed = 0
        private set
    var reused = 0
        private set

    /** One tracked frame: when it finished (ns), how long the step took (ms) and the core's record JSON. */
    fun add(finishedNs: Long, stepMs: Double, recordJson: String) {
        times.addLast(finishedNs)
        while (times.size > window) times.removeFirst()
        lastMs = stepMs
        decisions = DECISION.findAll(recordJson).map { it.groupValues[1].toInt() to it.groupValues[2] }.toList()
        for ((_, d) in decisions) {
            if (d == "compute") computed++
            if (d == "reuse") reused++
        }
    }

    fun reset() {
        times.clear()
        decisions = emptyList()
        computed = 0
        reused = 0
        lastMs = 0.0
    }

    val fps: Double
        get() = if (times.size < 2) 0.0 else (times.size - 1) * 1e9 / (times.last() - times.first())

    val reuseRate: Double?
        get() = if (computed + reused == 0) null else reused.toDouble() / (computed + reused)

    fun line(): String {
        val objects = decisions.joinToString("  ") { (id, d) ->
            "#$id " + when (d) {
                "reuse" -> "REUSED"
                "compute" -> "COMPUTED"
                else -> d.uppercase()
            }
        }
        val rate = reuseRate?.let { String.format("%.0f %%", 100 * it) } ?: "-"
        return String.format("%.1f FPS  %.1f ms/frame  %s  reuse %s", fps, lastMs, objects, rate)
    }

    private companion object {
        val DECISION = Regex("\"(\\d+)\":\\{\"p_gate\":[^,]*,\"decision\":\"(\\w+)\"")
    }
}
