package org.reusevos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Tracks a clip through the JNI binding and checks it against what the Python tracker did on the same
 * bundle (written by tests/test_native.py): the same decisions on every object-frame, masks that agree.
 *
 * <p>System properties: reusevos.bundle (ExecuTorch bundle), reusevos.tampered (a copy with one byte
 * changed), reusevos.clip (frames NNNNN.ppm, first masks start_NNNNN.pgm, the Python tracker's
 * decisions.txt and labels NNNNN.pgm).
 */
class NativeTrackerTest {
  private static final Pattern DECISION = Pattern.compile("\"(\\d+)\":\\{\"p_gate\":[^,]*,\"decision\":\"(\\w+)\"");

  private static String prop(String key) {
    String value = System.getProperty(key);
    assertNotNull(value, "-D" + key + " is required");
    return value;
  }

  /** A binary PGM/PPM: width, height, channels and the interleaved bytes. */
  private static final class Pnm {
    int width;
    int height;
    byte[] pixels;

    static Pnm read(Path path) throws IOException {
      byte[] all = Files.readAllBytes(path);
      int[] pos = {2};
      Pnm p = new Pnm();
      int channels = all[1] == '6' ? 3 : 1;
      p.width = next(all, pos);
      p.height = next(all, pos);
      next(all, pos);
      pos[0] += 1;
      p.pixels = java.util.Arrays.copyOfRange(all, pos[0], pos[0] + p.width * p.height * channels);
      return p;
    }

    private static int next(byte[] b, int[] pos) {
      while (Character.isWhitespace(b[pos[0]])) {
        pos[0]++;
      }
      int v = 0;
      while (Character.isDigit(b[pos[0]])) {
        v = v * 10 + (b[pos[0]++] - '0');
      }
      return v;
    }
  }

  /** RGB bytes -> a direct RGBA buffer with a padded row stride (what a camera plane looks like). */
  private static ByteBuffer rgba(Pnm rgb, int stride) {
    ByteBuffer buf = ByteBuffer.allocateDirect(stride * rgb.height);
    for (int y = 0; y < rgb.height; y++) {
      for (int x = 0; x < rgb.width; x++) {
        int s = (y * rgb.width + x) * 3;
        int d = y * stride + x * 4;
        buf.put(d, rgb.pixels[s]).put(d + 1, rgb.pixels[s + 1]).put(d + 2, rgb.pixels[s + 2]).put(d + 3, (byte) 255);
      }
    }
    return buf;
  }

  private static String decisions(String recordJson) {
    Matcher m = DECISION.matcher(recordJson);
    List<String> out = new ArrayList<>();
    while (m.find()) {
      out.add(m.group(1) + ":" + m.group(2));
    }
    return String.join(" ", out);
  }

  @Test
  void tracksTheClipAsThePythonTrackerDoes() throws IOException {
    Path clip = Path.of(prop("reusevos.clip"));
    List<String> expected = Files.readAllLines(clip.resolve("decisions.txt"));
    List<Path> frames;
    try (Stream<Path> s = Files.list(clip)) {
      frames = s.filter(p -> p.toString().endsWith(".ppm")).sorted().collect(Collectors.toList());
    }
    assertEquals(expected.size(), frames.size(), "one decisions.txt line per frame");
    double iouSum = 0;
    try (NativeTracker tracker = new NativeTracker(prop("reusevos.bundle"), Double.NaN, Integer.MIN_VALUE, 1)) {
      for (int i = 0; i < frames.size(); i++) {
        Pnm frame = Pnm.read(frames.get(i));
        Path start = clip.resolve(String.format("start_%05d.pgm", i));
        TreeMap<Integer, byte[]> masks = new TreeMap<>();
        if (Files.exists(start)) {
          byte[] ids = Pnm.read(start).pixels;
          for (int k = 0; k < ids.length; k++) {
            if (ids[k] != 0) {
              masks.computeIfAbsent(ids[k] & 0xff, id -> new byte[ids.length])[k] = 1;
            }
          }
        }
        int[] newIds = masks.keySet().stream().mapToInt(Integer::intValue).toArray();
        byte[][] newMasks = masks.values().toArray(new byte[0][]);
        int stride = frame.width * 4 + 16;
        NativeTracker.Result r = tracker.step(rgba(frame, stride), frame.width, frame.height, 4, stride, newIds, newMasks);
        assertEquals(expected.get(i), decisions(r.recordJson), "frame " + i + " decisions");
        byte[] want = Pnm.read(clip.resolve(String.format("labels_%05d.pgm", i))).pixels;
        long inter = 0;
        long union = 0;
        for (int k = 0; k < want.length; k++) {
          boolean a = r.labels[k] != 0;
          boolean b = want[k] != 0;
          inter += (a && b && r.labels[k] == want[k]) ? 1 : 0;
          union += (a || b) ? 1 : 0;
        }
        iouSum += union == 0 ? 1.0 : (double) inter / union;
      }
    }
    double meanIou = iouSum / frames.size();
    assertTrue(meanIou >= 0.99, "mean label IoU vs the Python tracker " + meanIou);
  }

  @Test
  void badInputIsRefusedWithItsName() throws IOException {
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> new NativeTracker("/nonexistent/bundle"));
    assertTrue(missing.getMessage().contains("/nonexistent/bundle"), missing.getMessage());
    IllegalArgumentException tampered = assertThrows(IllegalArgumentException.class,
        () -> new NativeTracker(prop("reusevos.tampered")));
    assertTrue(tampered.getMessage().contains("sha256 mismatch"), tampered.getMessage());
    try (NativeTracker tracker = new NativeTracker(prop("reusevos.bundle"))) {
      Pnm frame = Pnm.read(Path.of(prop("reusevos.clip")).resolve("00000.ppm"));
      int stride = frame.width * 4;
      ByteBuffer pixels = rgba(frame, stride);
      byte[] empty = new byte[frame.width * frame.height];
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> tracker.step(pixels, frame.width, frame.height, 4, stride, new int[] {1}, new byte[][] {empty}));
      assertTrue(e.getMessage().contains("is empty"), e.getMessage());
      byte[] one = new byte[frame.width * frame.height];
      one[0] = 1;
      e = assertThrows(IllegalArgumentException.class,
          () -> tracker.step(pixels, frame.width, frame.height, 4, stride, new int[] {300}, new byte[][] {one}));
      assertTrue(e.getMessage().contains("object id 300"), e.getMessage());
      tracker.step(pixels, frame.width, frame.height, 4, stride, new int[] {1}, new byte[][] {one});
      e = assertThrows(IllegalArgumentException.class,
          () -> tracker.step(pixels, frame.width / 2, frame.height / 2, 4, stride, new int[0], new byte[0][]));
      assertTrue(e.getMessage().contains("differs from the video's"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> tracker.removeObject(7));
      assertTrue(e.getMessage().contains("object id 7 is not tracked"), e.getMessage());
      assertEquals(1, tracker.objectIds().length);
    }
  }

  @Test
  void benchmarkReturnsTheMeasurementWithTheProbesReadings() throws IOException {
    Path clip = Path.of(prop("reusevos.clip"));
    Pnm first = Pnm.read(clip.resolve("00000.ppm"));
    Pnm second = Pnm.read(clip.resolve("00001.ppm"));
    int stride = first.width * 4 + 16;
    ByteBuffer[] frames = {rgba(first, stride), rgba(second, stride)};
    byte[] ids = Pnm.read(clip.resolve("start_00000.pgm")).pixels;
    byte[] mask = new byte[ids.length];
    for (int k = 0; k < ids.length; k++) {
      mask[k] = (byte) (ids[k] == 1 ? 1 : 0);
    }
    int[] calls = {0, 0};
    NativeTracker.Probe probe = new NativeTracker.Probe() {
      @Override
      public void begin() {
        calls[0]++;
      }

      @Override
      public String end(int frames) {
        calls[1] = frames;
        return "{\"energy_source\":\"test probe\",\"pss_peak_mb\":12.5}";
      }
    };
    String options = "{\"bundle\":\"" + prop("reusevos.bundle") + "\",\"name\":\"junit\",\"frame_count\":5,"
        + "\"threads\":1,\"warmup\":1,\"cooldown_s\":0}";
    String json = NativeTracker.benchmark(options, frames, first.width, first.height, 4, stride, new int[] {1},
        new byte[][] {mask}, probe);
    assertEquals(1, calls[0], "begin() once");
    assertEquals(5, calls[1], "end() gets the timed frame count");
    for (String key : new String[] {"name", "target", "precision", "bundle", "size_mb", "load_ms", "frames",
        "per_frame_ms", "per_frame_subgraph_ms", "per_frame_kind", "tracker", "per_subgraph_ms", "calls", "computed",
        "reused", "reuse_rate", "cpu_seconds_per_frame", "peak_memory_mb", "joules_per_frame", "energy_source"}) {
      assertTrue(json.contains("\"" + key + "\":"), key + " in " + json);
    }
    assertTrue(json.contains("\"frames\":5,"), json);
    assertTrue(json.contains("\"energy_source\":\"test probe\""), json);
    assertTrue(json.contains("\"pss_peak_mb\":12.5"), json);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NativeTracker.benchmark(
        "{\"bundle\":\"x\",\"frame_count\":-1}", frames, first.width, first.height, 4, stride, new int[] {1},
        new byte[][] {mask}, probe));
    assertTrue(e.getMessage().contains("frame_count"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> NativeTracker.benchmark(options, frames, first.width,
        first.height, 4, stride, new int[] {1}, new byte[][] {new byte[3]}, probe));
    assertTrue(e.getMessage().contains("mask of object 1"), e.getMessage());
  }
}
