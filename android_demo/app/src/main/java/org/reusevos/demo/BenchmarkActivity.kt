package org.reusevos.demo

import android.app.Activity
import android.os.Bundle
import android.os.Process
import android.util.Log
import android.view.WindowManager
import android.widget.TextView
import java.io.File
import org.reusevos.NativeTracker
import org.reusevos.demo.core.BenchRequest
import org.reusevos.demo.core.Bundles
import org.reusevos.demo.core.IdMask
import org.reusevos.demo.core.Json

/**
 * Benchmark mode (what `reusevos-bench --device android` starts; extras in core/BenchRequest.kt): decodes
 * the clip, runs the native core's benchmark runner with the battery/PSS probe, writes the measurement to
 * files/bench/OUT (temp file, then rename; {"error": ...} if the run failed) and ends the process, which is
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
        val folder = File(filesDir, "bench").apply { mkdirs() }
        var out = (values["out"] as? String)?.takeIf { it.endsWith(".json") && !it.contains('/') } ?: "bench.json"
        val text = try {
            val request = BenchRequest.parse(values)
            out = request.out
            Bundles.check(File(request.bundle))
            val mask = IdMask.readPng(File(request.mask))
            val clip = DecodedClip.decode(File(request.frames))
            require(mask.width == clip.width && mask.height == clip.height) {
                "mask ${request.mask}: ${mask.width}x${mask.height}, the frames are ${clip.width}x${clip.height}"
            }
            val objects = mask.objectMasks()
            require(objects.isNotEmpty()) { "mask ${request.mask}: no object (every id is 0 or 255)" }
            NativeTracker.benchmark(request.optionsJson(), clip.frames, clip.width, clip.height, 4, clip.rowStride,
                objects.keys.toIntArray(), objects.values.toTypedArray(), BatteryProbe(this))
        } catch (e: Exception) {
            Log.e(TAG, "benchmark failed", e)
            Json.obj("error" to Json.quote("${e.javaClass.simpleName}: ${e.message}")) + "\n"
        }
        val temp = File(folder, "$out.partial")
        temp.writeText(text)
        if (!temp.renameTo(File(folder, out))) Log.e(TAG, "could not rename $temp")
        Log.i(TAG, "wrote files/bench/$out")
        runOnUiThread {
            finishAndRemoveTask()
            Process.killProcess(Process.myPid())
        }
    }

    private companion object {
        const val TAG = "reusevos-bench"
    }
}
