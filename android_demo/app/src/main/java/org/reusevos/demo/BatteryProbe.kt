package org.reusevos.demo

import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Debug
import android.os.SystemClock
import org.reusevos.NativeTracker
import org.reusevos.demo.core.BatteryEnergy
import org.reusevos.demo.core.BatterySample

/**
 * The benchmark's probe on a phone: a thread samples BatteryManager (CHARGE_COUNTER, CURRENT_NOW,
 * ENERGY_COUNTER, voltage) every [periodMs] and the app's PSS every [pssEveryMs] while the clip runs;
 * end() turns the samples into the measurement's energy and memory (core/Power.kt).
 */
class BatteryProbe(
    private val context: Context,
    private val periodMs: Long = 250,
    private val pssEveryMs: Long = 1000,
) : NativeTracker.Probe {
    private val battery = context.getSystemService(Context.BATTERY_SERVICE) as BatteryManager
    private val samples = mutableListOf<BatterySample>()
    @Volatile private var running = false
    private var thread: Thread? = null
    private var pluggedIn = false

    override fun begin() {
        samples.clear()
        pluggedIn = plugged()
        running = true
        thread = Thread({
            var lastPss = 0L
            var pss = 0L
            while (running) {
                val now = SystemClock.elapsedRealtime()
                if (now - lastPss >= pssEveryMs) {
                    pss = Debug.getPss()  // KiB; costs about a millisecond, hence its own period
                    lastPss = now
                }
                synchronized(samples) { samples.add(sample(pss)) }
                SystemClock.sleep(periodMs)
            }
        }, "reusevos-battery").apply { priority = Thread.MIN_PRIORITY; start() }
    }

    override fun end(frames: Int): String {
        running = false
        thread?.join()
        pluggedIn = pluggedIn || plugged()
        val taken = synchronized(samples) { samples.toList() + sample(Debug.getPss()) }
        return BatteryEnergy.readings(taken, frames, pluggedIn)
    }

    private fun sample(pssKb: Long): BatterySample {
        fun prop(id: Int): Long = battery.getLongProperty(id).let { if (it == Long.MIN_VALUE || it == 0L) BatteryEnergy.UNSUPPORTED else it }
        val status = context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
        return BatterySample(
            timeNs = SystemClock.elapsedRealtimeNanos(),
            chargeMicroAh = prop(BatteryManager.BATTERY_PROPERTY_CHARGE_COUNTER),
            currentMicroA = prop(BatteryManager.BATTERY_PROPERTY_CURRENT_NOW),
            energyNanoWh = prop(BatteryManager.BATTERY_PROPERTY_ENERGY_COUNTER),
            voltageMv = status?.getIntExtra(BatteryManager.EXTRA_VOLTAGE, 0) ?: 0,
            pssKb = pssKb,
        )
    }

    private fun plugged(): Boolean {
        val status = context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
        return (status?.getIntExtra(BatteryManager.EXTRA_PLUGGED, 0) ?: 0) != 0
    }
}
