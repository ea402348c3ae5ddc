/* The native tracker core as a C API: what Swift (ReuseVOSKit, iOS and macOS) and any C caller link.
 *
 * Why C and not Swift's C++ interoperability: Swift cannot catch C++ exceptions, and the core reports
 * bad input by throwing; here every call returns a status and writes the core's message (which names
 * the bad input) into the caller's rv_error, and no exception crosses. C also imports into Swift on
 * every platform without interop flags, and into anything else with an FFI.
 *
 * Threading: one rv_tracker per video stream, called from one thread at a time.
 * Tensors are float32, row-major, in the shapes the bundle's manifest lists. */
#ifndef REUSEVOS_C_API_H
#define REUSEVOS_C_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rv_tracker rv_tracker;

/* Pixel layouts (`format` below): interleaved uint8, alpha ignored. RV_BGRA is what iOS cameras deliver
 * (CVPixelBuffer kCVPixelFormatType_32BGRA), read in place. */
enum { RV_RGB = 3, RV_RGBA = 4, RV_BGRA = 0x14 };

/* The message of a failed call ("" after a successful one). */
typedef struct rv_error {
  char message[1024];
} rv_error;

/* One tensor of a subgraph call: contract name, shape and float32 data (`count` values). */
typedef struct rv_tensor {
  const char* name;
  const int64_t* shape;
  int rank;
  float* data;
  int64_t count;
} rv_tensor;

/* A subgraph runner supplied by the caller (e.g. Core ML from Swift): `run` fills `outputs[k].data`
 * (allocated by the core, shapes from the manifest) from `inputs` and returns 0, or writes a message to
 * `error` (size `error_size`) and returns nonzero. */
typedef struct rv_backend {
  void* context;
  int (*run)(void* context, const char* subgraph, const rv_tensor* inputs, int num_inputs, rv_tensor* outputs,
             int num_outputs, char* error, size_t error_size);
  const char* name; /* for the benchmark's notes, e.g. "Core ML"; may be NULL */
  /* Optional (may be NULL): loads the model(s), called once when the tracker opens (after the manifest is
   * verified) and inside the benchmark's timed load; 0, or nonzero with a message like `run`. */
  int (*load)(void* context, char* error, size_t error_size);
} rv_backend;

/* Readings of the platform around a benchmark's timed clip (energy, memory): `end` returns a JSON object
 * whose members replace or extend the measurement's; the string must stay valid until the next call. */
typedef struct rv_probe {
  void* context;
  void (*begin)(void* context);
  const char* (*end)(void* context, int frames);
} rv_probe;

/* Opens a bundle folder (manifest and every file's sha256 verified) with its ExecuTorch program (an error
 * where the library was built without ExecuTorch: REUSEVOS_EXECUTORCH=OFF, e.g. for Core ML on iOS).
 * tau: NaN for the bundle's own; keyframe_bound: INT32_MIN for the bundle's own, -1 for none;
 * num_threads: 0 for the runtime's default. NULL on failure (error says why). */
rv_tracker* rv_tracker_open(const char* bundle_dir, double tau, int keyframe_bound, int num_threads, rv_error* error);

/* The same with the caller's subgraph runner instead of ExecuTorch (any target's bundle); `backend` is
 * copied, its context must outlive the tracker. */
rv_tracker* rv_tracker_open_with(const char* bundle_dir, const rv_backend* backend, double tau, int keyframe_bound,
                                 rv_error* error);

void rv_tracker_close(rv_tracker* tracker);

/* Tracks one frame: `format` (RV_RGB, RV_RGBA, RV_BGRA) pixels in rows `stride` bytes apart. Objects `new_ids[k]` start on
 * this frame with masks `new_masks[k]` (width * height bytes, nonzero = object). Writes width * height
 * object ids to `labels_out` and points `*record_json` at the frame's record (the Python tracker's JSON;
 * valid until the next call on this tracker). Returns 0, or nonzero with the tracker unchanged. */
int rv_tracker_step(rv_tracker* tracker, const uint8_t* pixels, int width, int height, int format, int64_t stride,
                    const int* new_ids, const uint8_t* const* new_masks, int num_new, uint8_t* labels_out,
                    const char** record_json, rv_error* error);

/* Forgets every object: the next frame starts a new video. */
void rv_tracker_reset(rv_tracker* tracker);

int rv_tracker_remove_object(rv_tracker* tracker, int id, rv_error* error);

/* Writes up to `capacity` tracked ids to `ids_out`; returns how many are tracked. */
int rv_tracker_object_ids(const rv_tracker* tracker, int* ids_out, int capacity);

/* The reusevos-bench protocol (reusevos/benchmark.hpp) on decoded frames, objects starting on frame 0;
 * `options_json` as BenchmarkOptions::from_json; `backend` runs the subgraphs (NULL: ExecuTorch), `probe`
 * reads the platform (NULL: the host's RAPL counter). Returns the measurement JSON (free it with rv_free),
 * or NULL with the error. */
char* rv_benchmark(const char* options_json, const uint8_t* const* frames, int num_frames, int width, int height,
                   int format, int64_t stride, const int* ids, const uint8_t* const* masks, int num_objects,
                   const rv_backend* backend, const rv_probe* probe, rv_error* error);

void rv_free(void* pointer);

#ifdef __cplusplus
}
#endif

#endif /* REUSEVOS_C_API_H */
