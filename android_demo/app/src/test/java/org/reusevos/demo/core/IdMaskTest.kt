package org.reusevos.demo.core

import java.io.ByteArrayOutputStream
import java.io.DataOutputStream
import java.io.File
import java.util.zip.CRC32
import java.util.zip.Deflater
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.test.assertFailsWith

class IdMaskTest {
    /** A PNG of `rows` (already filtered: each row starts with its filter byte). */
    private fun png(width: Int, height: Int, depth: Int, type: Int, rows: ByteArray): ByteArray {
        val out = ByteArrayOutputStream()
        out.write(byteArrayOf(-119, 80, 78, 71, 13, 10, 26, 10))
        fun chunk(name: String, data: ByteArray) {
            val d = DataOutputStream(out)
            d.writeInt(data.size)
            val body = name.toByteArray(Charsets.US_ASCII) + data
            d.write(body)
            d.writeInt(CRC32().apply { update(body) }.value.toInt())
        }
        val ihdr = ByteArrayOutputStream().also {
            DataOutputStream(it).apply { writeInt(width); writeInt(height); write(byteArrayOf(depth.toByte(), type.toByte(), 0, 0, 0)) }
        }.toByteArray()
        chunk("IHDR", ihdr)
        if (type == 3) chunk("PLTE", ByteArray(3 * 256))
        val deflater = Deflater().apply { setInput(rows); finish() }
        val buf = ByteArray(65536)
        val z = ByteArrayOutputStream()
        while (!deflater.finished()) z.write(buf, 0, deflater.deflate(buf))
        chunk("IDAT", z.toByteArray())
        chunk("IEND", ByteArray(0))
        return out.toByteArray()
    }

    @Test
    fun decodesEveryFilterAt8Bits() {
        // 3x2 ids [[0,1,2],[2,2,1]]: row 0 Sub-filtered, row 1 Paeth-filtered
        val ids = byteArrayOf(0, 1, 2, 2, 2, 1)
        val row0 = byteArrayOf(1, 0, 1, 1)  // Sub: 0, 1-0, 2-1
        // Paeth row 1: predictors from (a=left, b=up, c=up-left)
        val p = fun(a: Int, b: Int, c: Int): Int {
            val q = a + b - c
            val pa = Math.abs(q - a); val pb = Math.abs(q - b); val pc = Math.abs(q - c)
            return if (pa <= pb && pa <= pc) a else if (pb <= pc) b else c
        }
        val r1 = byteArrayOf(4, (2 - p(0, 0, 0)).toByte(), (2 - p(2, 1, 0)).toByte(), (1 - p(2, 2, 1)).toByte())
        val mask = IdMask.decodePng(png(3, 2, 8, 3, row0 + r1), "test")
        assertArrayEquals(ids, mask.ids)
        assertEquals(setOf(1, 2), mask.objectMasks().keys)
        assertArrayEquals(byteArrayOf(0, 1, 0, 0, 0, 1), mask.objectMasks()[1])
    }

    @Test
    fun decodesLowBitDepthsAndBinaryGrayscale() {
        // 1-bit palette, width 10: ids 1 0 1 0 1 0 1 0 1 1
        val bits = IdMask.decodePng(png(10, 1, 1, 3, byteArrayOf(0, 0b10101010.toByte(), 0b11000000.toByte())), "t")
        assertArrayEquals(byteArrayOf(1, 0, 1, 0, 1, 0, 1, 0, 1, 1), bits.ids)
        // 8-bit grayscale 0/255 -> object 1
        val gray = IdMask.decodePng(png(2, 1, 8, 0, byteArrayOf(0, 0, 255.toByte())), "t")
        assertArrayEquals(byteArrayOf(0, 1), gray.ids)
    }

    @Test
    fun badFilesAreNamed() {
        val e = assertFailsWith<IllegalArgumentException> { IdMask.decodePng(byteArrayOf(1, 2, 3), "mask m.png") }
        assertTrue(e.message!!.startsWith("mask m.png: not a PNG"), e.message)
        val rgb = assertFailsWith<IllegalArgumentException> { IdMask.decodePng(png(1, 1, 8, 2, byteArrayOf(0, 1, 2, 3)), "mask c.png") }
        assertTrue(rgb.message!!.contains("colour type 2"), rgb.message)
        val none = assertFailsWith<IllegalArgumentException> { IdMask.readPng(File("/nonexistent/m.png")) }
        assertTrue(none.message!!.contains("/nonexistent/m.png: no such file"), none.message)
    }

    /** A palette PNG written by reusevos_edge.data.masks_io.write_mask (tests/test_android_demo.py) with its raw ids. */
    @Test
    fun readsWhatThePythonToolkitWrites() {
        val png = System.getProperty("reusevos.mask_png") ?: return
        val raw = File(System.getProperty("reusevos.mask_ids")).readBytes()
        val mask = IdMask.readPng(File(png))
        assertEquals(raw.size, mask.width * mask.height)
        assertArrayEquals(raw, mask.ids)
    }
}
