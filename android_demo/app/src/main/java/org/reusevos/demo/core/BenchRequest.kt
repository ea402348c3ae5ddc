package org.reusevos.demo.core

/**
 * The benchmark mode's intent extras (what `reusevos-bench --device android` sends; see
 * reusevos_edge/bench/phone.py): `bundle`, `frames` (folder of numbered JPEGs), `mask` (first-frame
 * palette PNG), `frame_count`, `threads`, `warmup` (ints), `cooldown_s`, `tau` (floats; tau only when
 * overridden) and `out` (result file name under the app's files/bench/).
 */
data class BenchRequest(
    val bundle: String,
    val frames: String,
    val mask: String,
    val frameCount: Int,
    val threads: Int,
    val warmup: Int,
    val cooldownS: Double,
    val tau: Double?,
    val out: String,
) {
    /** The options JSON of NativeTracker.benchmark. */
    fun optionsJson(): String = Json.obj(
        "bundle" to Json.quote(bundle),
        "name" to Json.quote(out.removeSuffix(".json")),
        "frame_count" to frameCount.toString(),
        "threads" to threads.toString(),
        "warmup" to warmup.toString(),
        "cooldown_s" to Json.number(cooldownS),
        "tau" to (tau?.let { Json.number(it) } ?: "null"),
    )

    companion object {
        /**
         * From the extras (as Intent.extras gives them: String, Int, Float or Double values; numbers given as
         * text are read too). IllegalArgumentException naming the first bad extra and what was expected.
         */
        fun parse(extras: Map<String, Any?>): BenchRequest {
            val known = setOf("bundle", "frames", "mask", "frame_count", "threads", "warmup", "cooldown_s", "tau", "out")
            val unknown = extras.keys - known
            require(unknown.isEmpty()) { "intent extras ${unknown.sorted()}: unknown; expected some of ${known.sorted()}" }
            val out = text(extras, "out") ?: DEFAULT_OUT
            require(isResultName(out)) {
                "intent extra out: expected a file name ending in .json (no folder), got \"$out\""
            }
            return BenchRequest(
                bundle = text(extras, "bundle") ?: missing("bundle", "the bundle folder on the phone"),
                frames = text(extras, "frames") ?: missing("frames", "a folder of numbered JPEG frames"),
                mask = text(extras, "mask") ?: missing("mask", "the first frame's palette PNG"),
                frameCount = int(extras, "frame_count", 0, min = 0),
                threads = int(extras, "threads", 1, min = 0),
                warmup = int(extras, "warmup", 3, min = 0),
                cooldownS = real(extras, "cooldown_s", 2.0)
                    .also { require(it >= 0) { "intent extra cooldown_s: expected seconds >= 0, got $it" } },
                tau = if (extras["tau"] == null) null else real(extras, "tau", 0.0).also {
                    require(it in 0.0..1.0) { "intent extra tau: expected a threshold in [0, 1], got $it" }
                },
                out = out,
            )
        }

        const val DEFAULT_OUT = "bench.json"

        /** A result file name the app writes under files/bench/: NAME.json, no folder. */
        fun isResultName(name: String): Boolean = name.endsWith(".json") && !name.contains('/') && name.length > 5

        private fun missing(key: String, what: String): Nothing =
            throw IllegalArgumentException("intent extra $key: missing; expected $what")

        private fun text(extras: Map<String, Any?>, key: String): String? {
            val v = extras[key] ?: return null
            require(v is String && v.isNotBlank()) { "intent extra $key: expected a non-empty string (--es), got $v" }
            return v
        }

        private fun int(extras: Map<String, Any?>, key: String, default: Int, min: Int): Int {
            val v = when (val raw = extras[key]) {
                null -> default
                is Int -> raw
                is Long -> raw.toInt()
                is String -> raw.toIntOrNull()
                else -> null
            }
            require(v != null && v >= min) { "intent extra $key: expected an integer >= $min (--ei), got ${extras[key]}" }
            return v
        }

        private fun real(extras: Map<String, Any?>, key: String, default: Double): Double {
            val v = when (val raw = extras[key]) {
                null -> default
                is Number -> raw.toDouble()
                is String -> raw.toDoubleOrNull()
                else -> null
            }
            require(v != null && v.isFinite()) { "intent extra $key: expected a number (--ef), got ${extras[key]}" }
            return v
        }
    }
}
