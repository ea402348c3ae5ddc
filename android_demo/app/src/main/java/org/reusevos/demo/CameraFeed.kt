package org.reusevos.demo

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.Matrix
import android.graphics.RectF
import android.graphics.SurfaceTexture
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.os.Handler
import android.os.HandlerThread
import android.util.Size
import android.view.Surface
import android.view.TextureView

/**
 * The back camera's preview into a TextureView (Camera2, platform API only). Frames for the tracker come
 * from TextureView.getBitmap at the tracking size: RGBA pixels straight from the GPU, no JPEG round trip.
 */
class CameraFeed(private val context: Context, private val view: TextureView, private val onError: (String) -> Unit) {
    private val thread = HandlerThread("reusevos-camera").apply { start() }
    private val handler = Handler(thread.looper)
    private var device: CameraDevice? = null
    private var session: CameraCaptureSession? = null

    @SuppressLint("MissingPermission")  // MainActivity asks for CAMERA before it opens the feed
    fun open() {
        val manager = context.getSystemService(Context.CAMERA_SERVICE) as CameraManager
        val id = manager.cameraIdList.firstOrNull {
            manager.getCameraCharacteristics(it).get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_BACK
        } ?: manager.cameraIdList.firstOrNull()
        if (id == null) {
            onError("no camera on this device")
            return
        }
        val characteristics = manager.getCameraCharacteristics(id)
        val sizes = characteristics.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP)
            ?.getOutputSizes(SurfaceTexture::class.java).orEmpty()
        // the largest 16:9-ish preview up to 1280x720: enough for a 384x672 model input, cheap to read back
        val size = sizes.filter { it.width <= 1280 && it.height <= 720 }
            .minByOrNull { Math.abs(it.width.toDouble() / it.height - 16.0 / 9.0) * 1e6 - it.width * it.height }
            ?: Size(1280, 720)
        manager.openCamera(id, object : CameraDevice.StateCallback() {
            override fun onOpened(camera: CameraDevice) {
                device = camera
                startPreview(camera, size, characteristics.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 90)
            }

            override fun onDisconnected(camera: CameraDevice) = close()
            override fun onError(camera: CameraDevice, error: Int) {
                close()
                onError("camera error $error")
            }
        }, handler)
    }

    private fun startPreview(camera: CameraDevice, size: Size, sensorDegrees: Int) {
        val texture = view.surfaceTexture ?: return onError("the preview surface is not ready")
        texture.setDefaultBufferSize(size.width, size.height)
        view.post { configureTransform(size, sensorDegrees) }
        val surface = Surface(texture)
        val request = camera.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW).apply {
            addTarget(surface)
            set(CaptureRequest.CONTROL_AF_MODE, CaptureRequest.CONTROL_AF_MODE_CONTINUOUS_VIDEO)
        }
        @Suppress("DEPRECATION")
        camera.createCaptureSession(listOf(surface), object : CameraCaptureSession.StateCallback() {
            override fun onConfigured(s: CameraCaptureSession) {
                session = s
                s.setRepeatingRequest(request.build(), null, handler)
            }

            override fun onConfigureFailed(s: CameraCaptureSession) = onError("the camera refused the preview configuration")
        }, handler)
    }

    /** Fits the sensor's buffer to the view for the display's rotation (a landscape activity). */
    private fun configureTransform(size: Size, sensorDegrees: Int) {
        @Suppress("DEPRECATION")
        val rotation = (context as android.app.Activity).windowManager.defaultDisplay.rotation
        val matrix = Matrix()
        val viewRect = RectF(0f, 0f, view.width.toFloat(), view.height.toFloat())
        if (rotation == Surface.ROTATION_90 || rotation == Surface.ROTATION_270) {
            val buffer = RectF(0f, 0f, size.height.toFloat(), size.width.toFloat())
            buffer.offset(viewRect.centerX() - buffer.centerX(), viewRect.centerY() - buffer.centerY())
            matrix.setRectToRect(viewRect, buffer, Matrix.ScaleToFit.FILL)
            val scale = Math.max(view.height.toFloat() / size.height, view.width.toFloat() / size.width)
            matrix.postScale(scale, scale, viewRect.centerX(), viewRect.centerY())
            matrix.postRotate(90f * (rotation - 2), viewRect.centerX(), viewRect.centerY())
        } else if (rotation == Surface.ROTATION_180) {
            matrix.postRotate(180f, viewRect.centerX(), viewRect.centerY())
        }
        if (sensorDegrees % 180 == 0 && rotation % 2 == 0) matrix.reset()  // landscape-native sensor (tablets)
        view.setTransform(matrix)
    }

    fun close() {
        session?.close()
        session = null
        device?.close()
        device = null
    }

    fun release() {
        close()
        thread.quitSafely()
    }
}
