package org.reusevos.demo.core

import java.io.File
import java.nio.ByteBuffer
import org.reusevos.NativeTracker

/** A decoded clip: RGBA rows (`rowStride` bytes apart) in direct buffers, every frame `width x height`. */
class RgbaFrames(val buffers: Array<ByteBuffer>, val width: Int, val height: Int, val rowStride: Int)

/**
 * The benchmark mode between its intent extras and its result file, without Android: BenchmarkActivity
 * runs it with BitmapFactory frames and the battery probe; tests/test_android_demo.py runs it on the
 * JVM behind a stand-in adb, with the native core's JNI library built for this host.
 */
object BenchmarkRun {
    /** Checks the inputs (bundle, mask, frames) and runs the native core's benchmark runner on them. */
    fun measure(request: BenchRequest, decode: (File) -> RgbaFrames, probe: NativeTracker.Probe): String {
        Bundles.check(File(request.bundle))
        val mask = IdMask.readPng(File(request.mask))
        val clip = decode(File(request.frames))
        require(mask.width == clip.width && mask.height == clip.height) {
            "mask ${request.mask}: ${mask.width}x${mask.height}, the frames are ${clip.width}x${clip.height}"
        }
        val objects = mask.objectMasks()
        require(objects.isNotEmpty()) { "mask ${request.mask}: no object (every id is 0 or 255)" }
        return NativeTracker.benchmark(request.optionsJson(), clip.buffers, clip.width, clip.height, 4, clip.rowStride,
            objects.keys.toIntArray(), objects.values.toTypedArray(), probe)
    }

    /**
     * Parses the extras, measures, and writes the measurement (or {"error": ...} naming what failed) to
     * `folder/OUT` through a temporary file; returns the file.
     */
    fun runToFile(extras: Map<String, Any?>, folder: File, decode: (File) -> RgbaFrames,
                  probe: () -> NativeTracker.Probe): File {
        folder.mkdirs()
        var out = (extras["out"] as? String)?.takeIf(BenchRequest::isResultName) ?: BenchRequest.DEFAULT_OUT
        val text = try {
            val request = BenchRequest.parse(extras)
            out = request.out
            measure(request, decode, probe())
        } catch (e: Exception) {
            Json.obj("error" to Json.quote("${e.javaClass.simpleName}: ${e.message}")) + "\n"
        }
        val target = File(folder, out)
        val temp = File(folder, "$out.partial")
        temp.writeText(text)
        if (!temp.renameTo(target)) throw IllegalStateException("could not rename $temp to $target")
        return target
    }
}
