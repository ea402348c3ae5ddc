package org.reusevos.demo.host

import java.io.File
import java.nio.ByteBuffer
import javax.imageio.ImageIO
import org.reusevos.NativeTracker
import org.reusevos.demo.core.BatteryEnergy
import org.reusevos.demo.core.BenchmarkRun
import org.reusevos.demo.core.RgbaFrames

/**
 * BenchmarkActivity on this host, for the stand-in adb of tests/test_android_demo.py: the same extras
 * (`--es|--ei|--ef KEY VALUE`, as `adb shell am start` passes them), the same BenchmarkRun, the native
 * core through JNI (-Djava.library.path); frames through ImageIO instead of BitmapFactory, and a probe
 * without a battery. Writes to the folder of -Dreusevos.files (the app's files/bench).
 */
fun main(args: Array<String>) {
    require(args.size % 3 == 0) { "expected --es|--ei|--ef KEY VALUE triples, got ${args.toList()}" }
    val extras = args.toList().chunked(3).associate { (flag, key, value) ->
        key to when (flag) {
            "--ei" -> value.toInt()
            "--ef" -> value.toFloat()
            "--es" -> value
            else -> throw IllegalArgumentException("unknown extra flag $flag")
        }
    }
    val folder = File(System.getProperty("reusevos.files") ?: error("-Dreusevos.files is required"))
    val probe = object : NativeTracker.Probe {
        override fun begin() {}
        override fun end(frames: Int): String = BatteryEnergy.readings(emptyList(), frames, pluggedIn = false)
    }
    val file = BenchmarkRun.runToFile(extras, folder, ::decode) { probe }
    println(file)
}

/** JPEG/PNG frames in name order -> RGBA direct buffers (no row padding). */
private fun decode(folder: File): RgbaFrames {
    val files = folder.listFiles { f -> f.name.endsWith(".jpg") || f.name.endsWith(".png") }?.sortedBy { it.name }
    require(!files.isNullOrEmpty()) { "frames $folder: no .jpg or .png frames" }
    val images = files.map { ImageIO.read(it) ?: throw IllegalArgumentException("frame $it: not a readable image") }
    val width = images[0].width
    val height = images[0].height
    val buffers = images.map { image ->
        require(image.width == width && image.height == height) { "frames $folder: frames of different sizes" }
        val buffer = ByteBuffer.allocateDirect(width * height * 4)
        for (y in 0 until height) for (x in 0 until width) {
            val argb = image.getRGB(x, y)
            buffer.put((argb shr 16).toByte()).put((argb shr 8).toByte()).put(argb.toByte()).put((argb ushr 24).toByte())
        }
        buffer.rewind()
        buffer
    }
    return RgbaFrames(buffers.toTypedArray(), width, height, width * 4)
}
