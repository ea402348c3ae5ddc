package org.reusevos.demo.core

import java.io.File
import java.nio.file.Files
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.test.assertFailsWith

class BenchRequestTest {
    private val base = mapOf<String, Any?>("bundle" to "/data/local/tmp/reusevos/bundles/b", "frames" to "/f",
        "mask" to "/m.png", "frame_count" to 40, "threads" to 4, "warmup" to 3, "cooldown_s" to 2.0f, "out" to "b.json")

    @Test
    fun parsesTheHarnessExtras() {
        val r = BenchRequest.parse(base + ("tau" to 0.5f))
        assertEquals(40, r.frameCount)
        assertEquals(4, r.threads)
        assertEquals(0.5, r.tau)
        assertEquals(
            "{\"bundle\":\"/data/local/tmp/reusevos/bundles/b\",\"name\":\"b\",\"frame_count\":40,\"threads\":4," +
                "\"warmup\":3,\"cooldown_s\":2.0,\"tau\":0.5}", r.optionsJson())
        assertNull(BenchRequest.parse(base).tau)
    }

    /** The extras reusevos_edge.bench.phone.app_arguments sends (tests/test_android_demo.py), typed as adb sends them. */
    @Test
    fun parsesWhatTheHarnessSends() {
        val text = System.getProperty("reusevos.extras") ?: return
        val extras = text.split(";").associate { item ->
            val (key, typed) = item.split("=", limit = 2)
            val (type, value) = typed.split(":", limit = 2)
            key to when (type) {
                "i" -> value.toInt()
                "f" -> value.toFloat()
                else -> value
            }
        }
        val r = BenchRequest.parse(extras)
        assertEquals(extras["bundle"], r.bundle)
        assertEquals(extras["frame_count"], r.frameCount)
        assertEquals(extras["out"], r.out)
        assertEquals((extras["tau"] as Float).toDouble(), r.tau!!, 1e-6)
    }

    @Test
    fun badExtrasAreNamed() {
        fun message(extras: Map<String, Any?>) = assertFailsWith<IllegalArgumentException> { BenchRequest.parse(extras) }.message!!
        assertTrue(message(base - "bundle").startsWith("intent extra bundle: missing"))
        assertTrue(message(base + ("frame_count" to -1)).startsWith("intent extra frame_count: expected an integer >= 0"))
        assertTrue(message(base + ("threads" to "four")).startsWith("intent extra threads"))
        assertTrue(message(base + ("tau" to 1.5f)).startsWith("intent extra tau: expected a threshold"))
        assertTrue(message(base + ("out" to "../x.json")).startsWith("intent extra out"))
        assertTrue(message(base + ("fps" to 3)).startsWith("intent extras [fps]: unknown"))
    }
}

class BundlesTest {
    private fun bundle(root: File, name: String, manifest: String?): File =
        File(root, name).also { it.mkdirs(); if (manifest != null) File(it, "manifest.json").writeText(manifest) }

    @Test
    fun findsAndChecksBundles() {
        val root = Files.createTempDirectory("bundles").toFile()
        try {
            bundle(root, "b_et", "{\"format\":3,\"precision\":\"int8\",\"target\":\"executorch\"}")
            bundle(root, "a_tfl", "{\"precision\":\"fp32\",\"target\":\"tflite\"}")
            bundle(root, "not_a_bundle", null)
            val (found, problems) = Bundles.find(listOf(root, File(root, "absent")))
            assertEquals(listOf("b_et"), found.map { it.name })
            assertEquals("int8", found[0].precision)
            assertEquals(1, problems.size)
            assertTrue(problems[0].contains("target \"tflite\"; this app runs \"executorch\""), problems[0])
            val none = assertFailsWith<IllegalArgumentException> { Bundles.check(File(root, "not_a_bundle")) }
            assertTrue(none.message!!.contains("no manifest.json"), none.message)
            val missing = assertFailsWith<IllegalArgumentException> { Bundles.check(File(root, "gone")) }
            assertTrue(missing.message!!.contains("no such folder"), missing.message)
        } finally {
            root.deleteRecursively()
        }
    }
}

class OverlayAndStatsTest {
    @Test
    fun overlayUsesTheDavisPalette() {
        assertEquals(0, Overlay.colour(0))
        assertEquals(0xFF800000.toInt(), Overlay.colour(1, 255))
        assertEquals(0xFF008000.toInt(), Overlay.colour(2, 255))
        assertEquals(0x80808000.toInt(), Overlay.colour(3, 128))
        val out = IntArray(3)
        Overlay.render(byteArrayOf(0, 1, 2), out, 255)
        assertEquals(listOf(0, 0xFF800000.toInt(), 0xFF008000.toInt()), out.toList())
    }

    @Test
    fun statsLineCountsDecisions() {
        val s = TrackStats()
        s.add(0L, 80.0, "{\"frame\":0,\"objects\":{\"1\":{\"p_gate\":null,\"decision\":\"init\",\"forced\":null}},\"ran\":[]}")
        s.add(100_000_000L, 40.0, "{\"frame\":1,\"objects\":{\"1\":{\"p_gate\":0.9,\"decision\":\"reuse\",\"forced\":null}," +
            "\"2\":{\"p_gate\":0.1,\"decision\":\"compute\",\"forced\":null}},\"ran\":[]}")
        s.add(200_000_000L, 50.0, "{\"frame\":2,\"objects\":{\"1\":{\"p_gate\":0.8,\"decision\":\"reuse\",\"forced\":null}},\"ran\":[]}")
        assertEquals(10.0, s.fps, 1e-9)
        assertEquals(2.0 / 3.0, s.reuseRate!!, 1e-9)
        assertEquals("10.0 FPS  50.0 ms/frame  #1 REUSED  reuse 67 %", s.line())
    }
}

class BatteryEnergyTest {
    private val u = BatteryEnergy.UNSUPPORTED

    @Test
    fun prefersTheEnergyCounterThenCurrentThenCharge() {
        val energy = listOf(BatterySample(0, 1000, -500_000, 10_000_000, 4000, 100_000),
            BatterySample(2_000_000_000, 999, -500_000, 9_000_000, 4000, 150_000))
        assertEquals(3.6, BatteryEnergy.joules(energy, false).first!!, 1e-9)  // 1e6 nWh = 3.6 J
        val current = energy.map { it.copy(energyNanoWh = u) }
        assertEquals(4.0, BatteryEnergy.joules(current, false).first!!, 1e-9)  // 0.5 A x 4 V x 2 s
        val charge = current.map { it.copy(currentMicroA = u) }
        assertEquals(1 * 3.6e-3 * 4.0, BatteryEnergy.joules(charge, false).first!!, 1e-12)
        assertNull(BatteryEnergy.joules(energy, true).first)
        val readings = BatteryEnergy.readings(energy, 10, true)
        assertTrue(readings.contains("\"joules_per_frame\":null"), readings)
        assertTrue(readings.contains("\"peak_memory_mb\":146.484375"), readings)
        assertTrue(readings.contains("WARNING: the phone is on external power"), readings)
        assertTrue(BatteryEnergy.readings(energy, 10, false).contains("\"joules_per_frame\":0.36"))
    }
}
