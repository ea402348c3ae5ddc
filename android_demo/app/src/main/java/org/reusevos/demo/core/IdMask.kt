package org.reusevos.demo.core

import java.io.ByteArrayOutputStream
import java.io.File
import java.util.zip.DataFormatException
import java.util.zip.Inflater

/**
 * A first-frame mask: object ids per pixel (row-major, [height * width], 0 = background), as DAVIS and
 * `reusevos-bench` write them (a palette PNG whose pixel values are ids; a 0/255 grayscale PNG is id 1).
 * Plain Kotlin (no Android Bitmap: decoding a palette PNG to colours would lose the ids).
 */
class IdMask(val width: Int, val height: Int, val ids: ByteArray) {
    init {
        require(width > 0 && height > 0 && ids.size == width * height) {
            "IdMask: ${ids.size} ids do not fill ${width}x$height"
        }
    }

    /** id -> 0/1 mask (bytes, 1 = object) for every id present; 255 (DAVIS "void") is not an object. */
    fun objectMasks(): Map<Int, ByteArray> {
        val out = sortedMapOf<Int, ByteArray>()
        for (k in ids.indices) {
            val id = ids[k].toInt() and 0xff
            if (id == 0 || id == 255) continue
            out.getOrPut(id) { ByteArray(ids.size) }[k] = 1
        }
        return out
    }

    companion object {
        private val SIGNATURE = byteArrayOf(-119, 80, 78, 71, 13, 10, 26, 10)

        /** Reads a palette (colour type 3) or grayscale (type 0) PNG, bit depth 1-8, not interlaced. */
        fun readPng(file: File): IdMask {
            if (!file.isFile) throw IllegalArgumentException("mask $file: no such file")
            return decodePng(file.readBytes(), "mask $file")
        }

        fun decodePng(bytes: ByteArray, what: String): IdMask {
            fun fail(why: String): Nothing =
                throw IllegalArgumentException("$what: $why; expected a palette or grayscale PNG of object ids")
            if (bytes.size < 8 || !bytes.copyOfRange(0, 8).contentEquals(SIGNATURE)) fail("not a PNG file")
            var pos = 8
            var width = 0
            var height = 0
            var depth = 0
            var type = -1
            val idat = ByteArrayOutputStream()
            while (pos + 8 <= bytes.size) {
                val length = readInt(bytes, pos)
                val name = String(bytes, pos + 4, 4, Charsets.US_ASCII)
                val data = pos + 8
                if (length < 0 || data + length + 4 > bytes.size) fail("chunk $name is cut short")
                when (name) {
                    "IHDR" -> {
                        width = readInt(bytes, data)
                        height = readInt(bytes, data + 4)
                        depth = bytes[data + 8].toInt()
                        type = bytes[data + 9].toInt()
                        if (bytes[data + 12].toInt() != 0) fail("interlaced PNGs are not supported")
                    }
                    "IDAT" -> idat.write(bytes, data, length)
                }
                pos = data + length + 4
                if (name == "IEND") break
            }
            if (type != 0 && type != 3) fail("colour type $type (an RGB or alpha image)")
            if (depth !in intArrayOf(1, 2, 4, 8)) fail("bit depth $depth")
            if (width <= 0 || height <= 0) fail("no image header")
            val raw = inflate(idat.toByteArray(), what)
            val rowBytes = (width * depth + 7) / 8
            if (raw.size < height * (rowBytes + 1)) fail("the image data is cut short")
            val ids = unfilter(raw, rowBytes, height, what)
            val out = ByteArray(width * height)
            for (y in 0 until height) for (x in 0 until width) {
                val bit = x * depth
                val b = ids[y * rowBytes + bit / 8].toInt() and 0xff
                out[y * width + x] = ((b shr (8 - depth - bit % 8)) and ((1 shl depth) - 1)).toByte()
            }
            return IdMask(width, height, binaryToIds(out))
        }

        /** A 0/255 map is object 1 (as reusevos_edge.data.masks_io.binary_to_ids); any other map unchanged. */
        private fun binaryToIds(ids: ByteArray): ByteArray {
            var has255 = false
            for (v in ids) {
                val i = v.toInt() and 0xff
                if (i != 0 && i != 255) return ids
                has255 = has255 || i == 255
            }
            return if (has255) ByteArray(ids.size) { if (ids[it].toInt() != 0) 1 else 0 } else ids
        }

        private fun readInt(b: ByteArray, at: Int): Int =
            ((b[at].toInt() and 0xff) shl 24) or ((b[at + 1].toInt() and 0xff) shl 16) or
                ((b[at + 2].toInt() and 0xff) shl 8) or (b[at + 3].toInt() and 0xff)

        private fun inflate(data: ByteArray, what: String): ByteArray {
            val inflater = Inflater()
            inflater.setInput(data)
            val out = ByteArrayOutputStream()
            val buf = ByteArray(1 shl 16)
            try {
                while (!inflater.finished()) {
                    val n = inflater.inflate(buf)
                    if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) break
                    out.write(buf, 0, n)
                }
            } catch (e: DataFormatException) {
                throw IllegalArgumentException("$what: corrupt image data (${e.message})")
            } finally {
                inflater.end()
            }
            return out.toByteArray()
        }

        /** PNG filters (None, Sub, Up, Average, Paeth) with 1 byte per pixel step; rows without filter bytes. */
        private fun unfilter(raw: ByteArray, rowBytes: Int, height: Int, what: String): ByteArray {
            val out = ByteArray(rowBytes * height)
            for (y in 0 until height) {
                val filter = raw[y * (rowBytes + 1)].toInt()
                val src = y * (rowBytes + 1) + 1
                val row = y * rowBytes
                for (x in 0 until rowBytes) {
                    val a = if (x > 0) out[row + x - 1].toInt() and 0xff else 0
                    val b = if (y > 0) out[row - rowBytes + x].toInt() and 0xff else 0
                    val c = if (x > 0 && y > 0) out[row - rowBytes + x - 1].toInt() and 0xff else 0
                    val predictor = when (filter) {
                        0 -> 0
                        1 -> a
                        2 -> b
                        3 -> (a + b) / 2
                        4 -> paeth(a, b, c)
                        else -> throw IllegalArgumentException("$what: unknown PNG filter $filter in row $y")
                    }
                    out[row + x] = ((raw[src + x].toInt() + predictor) and 0xff).toByte()
                }
            }
            return out
        }

        private fun paeth(a: Int, b: Int, c: Int): Int {
            val p = a + b - c
            val pa = Math.abs(p - a)
            val pb = Math.abs(p - b)
            val pc = Math.abs(p - c)
            return if (pa <= pb && pa <= pc) a else if (pb <= pc) b else c
        }
    }
}
