package org.reusevos.demo

import android.app.Activity
import android.os.Bundle
import android.os.Process
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File
import org.reusevos.demo.core.BenchmarkRun

/**
 * Benchmark mode (what `reusevos-bench --device android` starts; extras in core/BenchRequest.kt): decodes
 * the clip, runs the native core's benchmark runner with the battery/PSS probe, writes the measurement to
 * files/bench/OUT ({"error": ...} if the run failed; core/BenchmarkRun.kt) and ends the process, which is
 * how the harness knows it is done.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val status = TextView(this).apply { text = "reusevos benchmark: running"; setPadding(48, 48, 48, 48) }
        setContentView(status)
        if (savedInstanceState != null) return  // recreated (the run survives configuration changes): already running
        val extras = intent.extras
        @Suppress("DEPRECATION")
        val values: Map<String, Any?> = extras?.keySet()?.associateWith { extras.get(it) } ?: emptyMap()
        Thread({ run(values) }, "reusevos-bench").start()
    }

    private fun run(values: Map<String, Any?>) {
        try {
            val file = BenchmarkRun.runToFile(values, File(filesDir, "bench"), AndroidFrames::decode) { BatteryProbe(this) }
            Log.i(TAG, "wrote files/bench/${file.name}")
        } catch (e: Exception) {
            Log.e(TAG, "benchmark result not written", e)
        }
        runOnUiThread {
            finishAndRemoveTask()
            Process.killProcess(Process.myPid())
        }
    }

    private companion object {
        const val TAG = "reusevos-bench"
    }
}
