package org.reusevos.demo.core

/** Mask overlay colours: each object id in its DAVIS palette colour (the colours of the exported masks). */
object Overlay {
    /** ARGB colour of object `id` at `alpha` (0-255); id 0 (background) is transparent. */
    fun colour(id: Int, alpha: Int = 140): Int {
        if (id == 0) return 0
        var r = 0
        var g = 0
        var b = 0
        var value = id
        for (shift in 7 downTo 0) {  // bit 3k + c of the id sets bit 7 - k of channel c (R, G, B)
            r = r or ((value and 1) shl shift)
            g = g or (((value shr 1) and 1) shl shift)
            b = b or (((value shr 2) and 1) shl shift)
            value = value shr 3
        }
        return (alpha shl 24) or (r shl 16) or (g shl 8) or b
    }

    /** Labels (object id per pixel) -> ARGB pixels of the same count, for Bitmap.setPixels. */
    fun render(labels: ByteArray, out: IntArray, alpha: Int = 140) {
        require(out.size == labels.size) { "overlay: ${out.size} pixels for ${labels.size} labels" }
        val table = IntArray(256) { colour(it, alpha) }
        for (i in labels.indices) out[i] = table[labels[i].toInt() and 0xff]
    }
}
