package org.reusevos.demo

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.Color
import android.graphics.SurfaceTexture
import android.os.Bundle
import android.os.Handler
import android.os.HandlerThread
import android.os.SystemClock
import android.text.InputType
import android.view.Gravity
import android.view.TextureView
import android.view.View
import android.view.ViewGroup.LayoutParams.MATCH_PARENT
import android.view.ViewGroup.LayoutParams.WRAP_CONTENT
import android.view.WindowManager
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.FrameLayout
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.TextView
import java.io.File
import java.nio.ByteBuffer
import org.reusevos.NativeTracker
import org.reusevos.demo.core.BundleInfo
import org.reusevos.demo.core.Bundles
import org.reusevos.demo.core.IdMask
import org.reusevos.demo.core.Overlay
import org.reusevos.demo.core.TrackStats

/**
 * Live tracking: the camera preview; Freeze holds a frame on which the user paints each object (or a
 * first-frame mask loads from the `mask` extra, a palette PNG at 854x480); Start tracks with the selected
 * bundle through the native core (JNI over ExecuTorch), the mask overlaid in per-object colours, and a line
 * with FPS, ms/frame, COMPUTED/REUSED per object and the running reuse rate. Errors show on screen.
 *
 * Bundles: sub-folders of the app's external files `bundles/` folder and of /data/local/tmp/reusevos/bundles
 * (adb push), and bundles shipped as assets under `assets/bundles/` (copied to the app's files on first use).
 */
class MainActivity : Activity() {
    private lateinit var preview: TextureView
    private lateinit var frozen: ImageView
    private lateinit var overlayView: ImageView
    private lateinit var canvas: MaskCanvas
    private lateinit var status: TextView
    private lateinit var error: TextView
    private lateinit var tauLabel: TextView
    private lateinit var tauBar: SeekBar
    private lateinit var keyframe: EditText
    private lateinit var bundleList: Spinner
    private var bundles: List<BundleInfo> = emptyList()
    private var tauTouched = false

    private var feed: CameraFeed? = null
    private val worker = HandlerThread("reusevos-track").apply { start() }
    private val workerHandler = Handler(worker.looper)
    private var tracker: NativeTracker? = null  // used on the worker thread only
    @Volatile private var run = 0  // the current tracking run; frames of an older one are dropped (0: stopped)
    private var runs = 0
    private val stats = TrackStats()
    private var firstFrame: Bitmap? = null
    private val frame = Bitmap.createBitmap(FRAME_W, FRAME_H, Bitmap.Config.ARGB_8888)
    private var pixels: ByteBuffer? = null
    private val overlayPixels = IntArray(FRAME_W * FRAME_H)
    private val overlayBitmap = Bitmap.createBitmap(FRAME_W, FRAME_H, Bitmap.Config.ARGB_8888)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        setContentView(layout())
        installAssetBundles()
        refreshBundles()
        if (checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), REQUEST_CAMERA)
        }
    }

    private fun layout(): View {
        preview = TextureView(this)
        frozen = ImageView(this).apply { scaleType = ImageView.ScaleType.FIT_XY; visibility = View.GONE }
        overlayView = ImageView(this).apply { scaleType = ImageView.ScaleType.FIT_XY; setImageBitmap(overlayBitmap) }
        canvas = MaskCanvas(this).apply { visibility = View.GONE }
        val stage = FrameLayout(this).apply {
            for (v in listOf<View>(preview, frozen, overlayView, canvas)) addView(v, FrameLayout.LayoutParams(MATCH_PARENT, MATCH_PARENT))
        }
        status = TextView(this).apply { setTextColor(Color.WHITE); text = "Freeze a frame, paint the object, Start" }
        error = TextView(this).apply { setTextColor(Color.rgb(255, 90, 90)) }
        tauLabel = TextView(this).apply { setTextColor(Color.WHITE); text = "tau: bundle's" }
        tauBar = SeekBar(this).apply {
            max = 100
            setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
                override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) {
                    if (fromUser) tauTouched = true
                    tauLabel.text = String.format("tau %.2f", progress / 100.0)
                }

                override fun onStartTrackingTouch(bar: SeekBar) {}
                override fun onStopTrackingTouch(bar: SeekBar) {}
            })
        }
        keyframe = EditText(this).apply {
            hint = "keyframe bound (blank: bundle's, -1: none)"
            inputType = InputType.TYPE_CLASS_NUMBER or InputType.TYPE_NUMBER_FLAG_SIGNED
            setTextColor(Color.WHITE)
        }
        bundleList = Spinner(this)
        fun button(label: String, action: () -> Unit) = Button(this).apply { text = label; setOnClickListener { action() } }
        val buttons = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            addView(button("Freeze") { freeze() })
            addView(button("Next object") { canvas.nextObject() })
            addView(button("Clear") { canvas.clear() })
            addView(button("Start") { start() })
            addView(button("Stop") { stop() })
        }
        val panel = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setBackgroundColor(Color.argb(160, 0, 0, 0))
            for (v in listOf<View>(status, error, bundleList, tauLabel, tauBar, keyframe, buttons)) addView(v)
        }
        return FrameLayout(this).apply {
            addView(stage, FrameLayout.LayoutParams(MATCH_PARENT, MATCH_PARENT))
            addView(panel, FrameLayout.LayoutParams(WRAP_CONTENT, WRAP_CONTENT, Gravity.END or Gravity.TOP))
        }
    }

    private fun bundleRoots(): List<File> =
        listOfNotNull(getExternalFilesDir("bundles"), File(filesDir, "bundles"), File("/data/local/tmp/reusevos/bundles"))

    private fun refreshBundles() {
        val (found, problems) = Bundles.find(bundleRoots())
        val wanted = intent.getStringExtra("bundle")
        bundles = if (wanted != null) {
            try { listOf(Bundles.check(File(wanted))) } catch (e: IllegalArgumentException) { showError(e.message); emptyList() }
        } else found
        bundleList.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item,
            bundles.map { "${it.name} (${it.precision ?: "?"})" })
        if (bundles.isEmpty() && wanted == null) {
            showError((problems + "no ExecuTorch bundle: adb push BUNDLE /data/local/tmp/reusevos/bundles/ (see README)")
                .joinToString("\n"))
        } else if (problems.isNotEmpty()) showError(problems.joinToString("\n"))
    }

    /** Bundles shipped in the APK under assets/bundles/NAME/ -> files/bundles/NAME/ (ExecuTorch maps files). */
    private fun installAssetBundles() {
        val names = assets.list("bundles").orEmpty()
        for (name in names) {
            val target = File(filesDir, "bundles/$name")
            if (File(target, "manifest.json").isFile) continue
            val temp = File(filesDir, "bundles/.$name.partial").apply { deleteRecursively(); mkdirs() }
            fun copy(asset: String, to: File) {
                val children = assets.list(asset).orEmpty()
                if (children.isEmpty()) {
                    assets.open(asset).use { input -> to.outputStream().use { input.copyTo(it) } }
                } else {
                    to.mkdirs()
                    for (child in children) copy("$asset/$child", File(to, child))
                }
            }
            copy("bundles/$name", temp)
            temp.renameTo(target)
        }
    }

    override fun onResume() {
        super.onResume()
        if (checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) return
        if (preview.isAvailable) openFeed() else preview.surfaceTextureListener = object : TextureView.SurfaceTextureListener {
            override fun onSurfaceTextureAvailable(s: SurfaceTexture, w: Int, h: Int) = openFeed()
            override fun onSurfaceTextureSizeChanged(s: SurfaceTexture, w: Int, h: Int) {}
            override fun onSurfaceTextureDestroyed(s: SurfaceTexture) = true
            override fun onSurfaceTextureUpdated(s: SurfaceTexture) {}
        }
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, results: IntArray) {
        if (requestCode == REQUEST_CAMERA && results.firstOrNull() == PackageManager.PERMISSION_GRANTED) onResume()
        else showError("the camera permission is needed for live tracking (benchmark mode works without it)")
    }

    private fun openFeed() {
        if (feed == null) feed = CameraFeed(this, preview) { message -> runOnUiThread { showError(message) } }.also { it.open() }
    }

    override fun onPause() {
        stop()
        feed?.release()
        feed = null
        super.onPause()
    }

    override fun onDestroy() {
        workerHandler.post { tracker?.close(); tracker = null }
        worker.quitSafely()
        super.onDestroy()
    }

    private fun freeze() {
        stop()
        firstFrame = preview.getBitmap(FRAME_W, FRAME_H)
        frozen.setImageBitmap(firstFrame)
        frozen.visibility = View.VISIBLE
        canvas.visibility = View.VISIBLE
        clearOverlay()
        status.text = "Paint object #${canvas.objectId} (Next object for another), then Start"
    }

    private fun firstMasks(): Map<Int, ByteArray> {
        val file = intent.getStringExtra("mask")
        if (file != null) {
            val mask = IdMask.readPng(File(file))
            require(mask.width == FRAME_W && mask.height == FRAME_H) {
                "mask $file: ${mask.width}x${mask.height}, the app tracks ${FRAME_W}x$FRAME_H frames"
            }
            return mask.objectMasks()
        }
        return canvas.masks(FRAME_W, FRAME_H)
    }

    private fun start() {
        showError(null)
        val first = firstFrame ?: return showError("Freeze a frame first")
        val bundle = bundles.getOrNull(bundleList.selectedItemPosition) ?: return showError("no bundle selected")
        val masks = try { firstMasks() } catch (e: IllegalArgumentException) { return showError(e.message) }
        if (masks.isEmpty()) return showError("paint the object on the frozen frame first")
        val tau = if (tauTouched) tauBar.progress / 100.0 else Double.NaN
        val bound = keyframe.text.toString().trim().let { if (it.isEmpty()) Int.MIN_VALUE else it.toIntOrNull() }
            ?: return showError("keyframe bound: expected an integer, blank or -1")
        frozen.visibility = View.GONE
        canvas.visibility = View.GONE
        val id = ++runs
        run = id
        val firstPixels = AndroidFrames.rgba(first)
        workerHandler.post {
            try {
                stats.reset()
                tracker?.close()
                tracker = null
                tracker = NativeTracker(bundle.dir.path, tau, bound, 0)
                track(id, firstPixels, masks)
            } catch (e: RuntimeException) {
                run = 0
                runOnUiThread { showError(e.message) }
            }
        }
    }

    private fun stop() {
        run = 0
    }

    /** UI thread: the current preview frame -> the worker (the buffer is free: the worker has finished with it). */
    private fun grab(id: Int) {
        if (run != id) return
        preview.getBitmap(frame)
        val buffer = AndroidFrames.rgba(frame, pixels).also { pixels = it }
        workerHandler.post { track(id, buffer, emptyMap()) }
    }

    /** Worker thread: one step, then the overlay and the line on the UI thread, which grabs the next frame. */
    private fun track(id: Int, buffer: ByteBuffer, masks: Map<Int, ByteArray>) {
        val t = tracker ?: return
        if (run != id) return
        try {
            val start = SystemClock.elapsedRealtimeNanos()
            val r = t.step(buffer, FRAME_W, FRAME_H, 4, FRAME_W * 4, masks.keys.toIntArray(), masks.values.toTypedArray())
            val end = SystemClock.elapsedRealtimeNanos()
            stats.add(end, (end - start) / 1e6, r.recordJson)
            Overlay.render(r.labels, overlayPixels)
            val line = stats.line()
            runOnUiThread {
                overlayBitmap.setPixels(overlayPixels, 0, FRAME_W, 0, 0, FRAME_W, FRAME_H)
                overlayView.invalidate()
                status.text = line
                grab(id)
            }
        } catch (e: RuntimeException) {
            run = 0
            runOnUiThread { showError(e.message) }
        }
    }

    private fun clearOverlay() {
        overlayBitmap.eraseColor(0)
        overlayView.invalidate()
    }

    private fun showError(message: String?) {
        error.text = message ?: ""
        error.visibility = if (message.isNullOrEmpty()) View.GONE else View.VISIBLE
    }

    private companion object {
        const val FRAME_W = 854  // the tracking frame: 16:9 like the camera preview and DAVIS 480p
        const val FRAME_H = 480
        const val REQUEST_CAMERA = 1
    }
}
