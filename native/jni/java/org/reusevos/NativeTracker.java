package org.reusevos;

import java.nio.ByteBuffer;

/**
 * The native tracker core (C++, over ExecuTorch) for Java and Kotlin: one instance per video stream.
 *
 * <p>Frames are RGBA or RGB bytes with their row stride in a direct {@link ByteBuffer} (what camera
 * planes are; nothing is copied on the Java side). Bad input (a missing or tampered bundle, a frame of
 * another size, an empty first mask, an unknown object id) throws {@link IllegalArgumentException}
 * with the core's message naming the input; the tracker is unchanged after a rejected call.
 * Not thread-safe: call it from one thread.
 */
public final class NativeTracker implements AutoCloseable {
  static {
    System.loadLibrary("reusevos_jni");
  }

  /** One tracked frame: object ids per pixel at the frame size, and the frame's record as JSON. */
  public static final class Result {
    public final byte[] labels;
    public final int width;
    public final int height;
    /** {"frame", "objects": {id: {"p_gate", "decision", "forced"}}, "ran"}: the Python tracker's record. */
    public final String recordJson;

    Result(byte[] labels, int width, int height, String recordJson) {
      this.labels = labels;
      this.width = width;
      this.height = height;
      this.recordJson = recordJson;
    }
  }

  /**
   * Platform readings around a benchmark's timed clip: {@code begin()} just before its first frame,
   * {@code end(frames)} just after its last, returning a JSON object whose members replace or extend the
   * measurement's (a phone's battery energy as "joules_per_frame" and "energy_source", "pss_peak_mb", ...).
   */
  public interface Probe {
    void begin();

    String end(int frames);
  }

  /**
   * Runs the reusevos-bench protocol (cooldown, timed load, warm-up, the timed clip; reusevos/benchmark.hpp)
   * on frames already decoded into direct buffers (all {@code width x height}, same layout), objects
   * {@code firstIds[k]} starting on frame 0 with {@code firstMasks[k]}; returns the measurement JSON that
   * {@code reusevos-bench} reads.
   *
   * @param optionsJson {"bundle", "name", "frame_count", "threads", "warmup", "cooldown_s", "tau", "rss_every"}
   *     ("bundle" required; "tau": null or absent for the bundle's own)
   */
  public static String benchmark(String optionsJson, ByteBuffer[] frames, int width, int height, int channels,
                                 int rowStride, int[] firstIds, byte[][] firstMasks, Probe probe) {
    return benchmark0(optionsJson, frames, width, height, channels, rowStride, firstIds, firstMasks, probe);
  }

  private long handle;

  /**
   * Opens and verifies the bundle folder (manifest checksums) and loads every ExecuTorch method.
   *
   * @param tau reuse threshold, or {@code Double.NaN} for the bundle's own
   * @param keyframeBound consecutive-reuse bound, -1 for none, or {@code Integer.MIN_VALUE} for the bundle's own
   * @param numThreads ExecuTorch threads (0: its default)
   */
  public NativeTracker(String bundleDir, double tau, int keyframeBound, int numThreads) {
    handle = open(bundleDir, tau, keyframeBound, numThreads);
  }

  /** The bundle's own options, ExecuTorch's default thread count. */
  public NativeTracker(String bundleDir) {
    this(bundleDir, Double.NaN, Integer.MIN_VALUE, 0);
  }

  /**
   * Tracks one frame. {@code newIds[k]} starts (or re-initialises) an object with mask {@code newMasks[k]}
   * (width * height bytes, nonzero = object) on this frame; pass empty arrays on later frames.
   */
  public Result step(ByteBuffer pixels, int width, int height, int channels, int rowStride, int[] newIds,
                     byte[][] newMasks) {
    if (pixels == null || !pixels.isDirect()) {
      throw new IllegalArgumentException("pixels: expected a direct ByteBuffer of RGB(A) rows");
    }
    if (newIds.length != newMasks.length) {
      throw new IllegalArgumentException("newIds and newMasks: " + newIds.length + " ids but " + newMasks.length + " masks");
    }
    return step(live(), pixels, width, height, channels, rowStride, newIds, newMasks);
  }

  /** Forgets every object: the next frame starts a new video. */
  public void reset() {
    reset(live());
  }

  public void removeObject(int id) {
    removeObject(live(), id);
  }

  public int[] objectIds() {
    return objectIds(live());
  }

  @Override
  public void close() {
    if (handle != 0) {
      close(handle);
      handle = 0;
    }
  }

  private long live() {
    if (handle == 0) {
      throw new IllegalStateException("NativeTracker is closed");
    }
    return handle;
  }

  private static native long open(String bundleDir, double tau, int keyframeBound, int numThreads);

  private static native Result step(long handle, ByteBuffer pixels, int width, int height, int channels,
                                    int rowStride, int[] newIds, byte[][] newMasks);

  private static native void reset(long handle);

  private static native void removeObject(long handle, int id);

  private static native int[] objectIds(long handle);

  private static native void close(long handle);

  private static native String benchmark0(String optionsJson, ByteBuffer[] frames, int width, int height,
                                          int channels, int rowStride, int[] firstIds, byte[][] firstMasks,
                                          Probe probe);
}
