package org.reusevos.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Matrix
import android.graphics.Paint
import android.graphics.Path
import android.view.MotionEvent
import android.view.View
import org.reusevos.demo.core.Overlay

/**
 * Drawn over the frozen first frame: the user paints (or taps) each object with a brush; [nextObject]
 * starts the next id. [masks] rasterises the strokes at the frame size (id -> 0/1 bytes).
 */
class MaskCanvas(context: Context) : View(context) {
    private val strokes = mutableListOf<Pair<Int, Path>>()
    private var current: Path? = null
    var objectId = 1
        private set
    var brushPx = 48f
    private val paint = Paint().apply {
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
    }

    fun nextObject() {
        if (strokes.any { it.first == objectId } && objectId < 254) objectId++
    }

    fun clear() {
        strokes.clear()
        objectId = 1
        invalidate()
    }

    val isEmpty: Boolean get() = strokes.isEmpty()

    override fun onTouchEvent(event: MotionEvent): Boolean {
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> current = Path().apply {
                moveTo(event.x, event.y)
                lineTo(event.x + 0.1f, event.y)  // a tap paints a dot
                strokes.add(objectId to this)
            }
            MotionEvent.ACTION_MOVE -> current?.lineTo(event.x, event.y)
            MotionEvent.ACTION_UP, MotionEvent.ACTION_CANCEL -> current = null
        }
        invalidate()
        return true
    }

    override fun onDraw(canvas: Canvas) {
        paint.strokeWidth = brushPx
        for ((id, path) in strokes) {
            paint.color = Overlay.colour(id, 160)
            canvas.drawPath(path, paint)
        }
    }

    /** The strokes at `width x height` (the tracker's frame size): id -> mask bytes (1 = object). */
    fun masks(width: Int, height: Int): Map<Int, ByteArray> {
        val scale = Matrix().apply { setScale(width.toFloat() / this@MaskCanvas.width, height.toFloat() / this@MaskCanvas.height) }
        val out = sortedMapOf<Int, ByteArray>()
        val bitmap = Bitmap.createBitmap(width, height, Bitmap.Config.ALPHA_8)
        val canvas = Canvas(bitmap)
        val solid = Paint(paint).apply {
            isAntiAlias = false
            color = 0xFF000000.toInt()
            strokeWidth = brushPx * width / this@MaskCanvas.width
        }
        val pixels = IntArray(width * height)
        for (id in strokes.map { it.first }.distinct()) {
            bitmap.eraseColor(0)
            for ((sid, path) in strokes) if (sid == id) canvas.drawPath(Path(path).apply { transform(scale) }, solid)
            bitmap.getPixels(pixels, 0, width, 0, 0, width, height)
            out[id] = ByteArray(pixels.size) { if ((pixels[it] ushr 24) != 0) 1 else 0 }
        }
        bitmap.recycle()
        return out
    }
}
