package org.reusevos.demo.core

/** One reading of the battery during a benchmark (BatteryManager properties; Long.MIN_VALUE: unsupported). */
data class BatterySample(
    val timeNs: Long,
    val chargeMicroAh: Long,
    val currentMicroA: Long,
    val energyNanoWh: Long,
    val voltageMv: Int,
    val pssKb: Long,
)

/** Energy of a benchmark run from battery samples, the best counter the phone has first. */
object BatteryEnergy {
    const val UNSUPPORTED = Long.MIN_VALUE

    /**
     * (joules, source): ENERGY_COUNTER's drop if the phone keeps it; else CURRENT_NOW x voltage integrated over
     * time; else CHARGE_COUNTER's drop x mean voltage; (null, why) when none moved or on external power.
     * Current sign differs between phones (discharge is negative on most), so its magnitude is used.
     */
    fun joules(samples: List<BatterySample>, pluggedIn: Boolean): Pair<Double?, String> {
        if (pluggedIn) return null to "unavailable: the phone was on external power (it charges while it runs)"
        if (samples.size < 2) return null to "unavailable: fewer than 2 battery samples"
        val first = samples.first()
        val last = samples.last()
        if (first.energyNanoWh != UNSUPPORTED && last.energyNanoWh != UNSUPPORTED && first.energyNanoWh > last.energyNanoWh) {
            return (first.energyNanoWh - last.energyNanoWh) * 3.6e-6 to "battery ENERGY_COUNTER"
        }
        val withCurrent = samples.filter { it.currentMicroA != UNSUPPORTED && it.voltageMv > 0 }
        if (withCurrent.size >= 2) {
            var joules = 0.0
            for (i in 1 until withCurrent.size) {
                val a = withCurrent[i - 1]
                val b = withCurrent[i]
                val watts = 0.5 * (Math.abs(a.currentMicroA) * a.voltageMv + Math.abs(b.currentMicroA) * b.voltageMv) * 1e-9
                joules += watts * (b.timeNs - a.timeNs) * 1e-9
            }
            if (joules > 0) return joules to "battery CURRENT_NOW x voltage, ${withCurrent.size} samples"
        }
        if (first.chargeMicroAh != UNSUPPORTED && last.chargeMicroAh != UNSUPPORTED && first.chargeMicroAh > last.chargeMicroAh) {
            val volts = samples.filter { it.voltageMv > 0 }.map { it.voltageMv }.average() / 1000.0
            if (volts.isFinite()) {
                return (first.chargeMicroAh - last.chargeMicroAh) * 3.6e-3 * volts to "battery CHARGE_COUNTER x voltage"
            }
        }
        return null to "unavailable: the battery counters did not move during the run"
    }

    /** The probe's readings for the measurement (NativeTracker.Probe.end): energy, peak PSS, warnings. */
    fun readings(samples: List<BatterySample>, frames: Int, pluggedIn: Boolean): String {
        val (joules, source) = joules(samples, pluggedIn)
        val pss = samples.map { it.pssKb }.filter { it > 0 }.maxOrNull()
        val members = mutableListOf(
            "joules_per_frame" to (if (joules != null && frames > 0) Json.number(joules / frames) else "null"),
            "energy_source" to Json.quote(source),
            "battery_samples" to samples.size.toString(),
        )
        if (pss != null) {
            members.add("peak_memory_mb" to Json.number(pss / 1024.0))  // the app's PSS, as the harness reports
            members.add("memory_source" to Json.quote("peak PSS (Debug.getPss) sampled during the run"))
        }
        val warning = chargingWarning(pluggedIn)
        members.add("notes" to Json.array(listOfNotNull(Json.quote("native tracker core (C++) over ExecuTorch, Android app"),
            warning?.let { Json.quote(it) })))
        return Json.obj(*members.toTypedArray())
    }

    /** The loud line for a run on external power (null on battery). */
    fun chargingWarning(pluggedIn: Boolean): String? = if (!pluggedIn) null else
        "WARNING: the phone is on external power: battery readings are meaningless. Use adb over Wi-Fi " +
            "(adb tcpip 5555; adb connect PHONE_IP) and unplug."
}
