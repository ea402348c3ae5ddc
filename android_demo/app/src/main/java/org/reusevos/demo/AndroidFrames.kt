package org.reusevos.demo

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.reusevos.demo.core.RgbaFrames

/** Frames through Android's decoders: RGBA bytes in direct buffers (what NativeTracker reads). */
object AndroidFrames {
    /** The folder's .jpg/.png files in name order, decoded before anything is timed. */
    fun decode(folder: File): RgbaFrames {
        val files = folder.listFiles { f -> f.isFile && f.name.lowercase().let { it.endsWith(".jpg") || it.endsWith(".png") } }
            ?.sortedBy { it.name }
        require(!files.isNullOrEmpty()) { "frames $folder: no .jpg or .png frames (push the clip with adb)" }
        val options = BitmapFactory.Options().apply { inPreferredConfig = Bitmap.Config.ARGB_8888 }
        var width = 0
        var height = 0
        var stride = 0
        val buffers = files.mapIndexed { i, file ->
            val bitmap = BitmapFactory.decodeFile(file.path, options)
                ?: throw IllegalArgumentException("frame $file: not a readable image")
            if (i == 0) {
                width = bitmap.width
                height = bitmap.height
                stride = bitmap.rowBytes
            }
            require(bitmap.width == width && bitmap.height == height) {
                "frame $file: ${bitmap.width}x${bitmap.height}, the first frame is ${width}x$height"
            }
            rgba(bitmap).also { bitmap.recycle() }
        }
        return RgbaFrames(buffers.toTypedArray(), width, height, stride)
    }

    /** An ARGB_8888 bitmap's pixels as RGBA bytes (its memory order) with its row stride. */
    fun rgba(bitmap: Bitmap, reuse: ByteBuffer? = null): ByteBuffer {
        val size = bitmap.rowBytes * bitmap.height
        val buffer = if (reuse != null && reuse.capacity() == size) reuse else
            ByteBuffer.allocateDirect(size).order(ByteOrder.nativeOrder())
        buffer.rewind()
        bitmap.copyPixelsToBuffer(buffer)
        buffer.rewind()
        return buffer
    }
}
