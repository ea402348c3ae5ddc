/* The C API from plain C (so the header is checked as C): tracks a clip like reusevos-native-track, runs the
 * caller-supplied backend path, and prints the errors of bad calls. tests/test_native.py checks the output.
 *
 *   reusevos-c-api-test BUNDLE CLIP_DIR OUT_DIR
 * CLIP_DIR: NNNNN.ppm frames, start_NNNNN.pgm object ids of objects starting on that frame.
 * OUT_DIR: records.json ({"frames": [record, ...]}) and labels/NNNNN.pgm; stdout: "error: ..." lines of the
 * bad calls, "callback: ..." lines of the caller-backend run and the "benchmark: ..." line of rv_benchmark over it. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reusevos/c_api.h"

static unsigned char* read_pnm(const char* path, int* width, int* height, int channels) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  char magic[3] = {0};
  int maxval = 0;
  if (fscanf(f, "%2s %d %d %d", magic, width, height, &maxval) != 4 || fgetc(f) == EOF) {
    fclose(f);
    return NULL;
  }
  size_t n = (size_t)(*width) * (size_t)(*height) * (size_t)channels;
  unsigned char* data = malloc(n);
  if (data != NULL && fread(data, 1, n, f) != n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static void write_pgm(const char* path, const unsigned char* data, int width, int height) {
  FILE* f = fopen(path, "wb");
  fprintf(f, "P5\n%d %d\n255\n", width, height);
  fwrite(data, 1, (size_t)width * (size_t)height, f);
  fclose(f);
}

/* A backend that writes zeros and reports each call's subgraph and first input (name, rank). */
static int zero_backend(void* context, const char* subgraph, const rv_tensor* inputs, int num_inputs,
                        rv_tensor* outputs, int num_outputs, char* error, size_t error_size) {
  int* calls = context;
  if (*calls == 0) printf("callback: %s %s rank %d, %d inputs, %d outputs\n", subgraph, inputs[0].name, inputs[0].rank,
                          num_inputs, num_outputs);
  *calls += 1;
  for (int k = 0; k < num_outputs; ++k) memset(outputs[k].data, 0, (size_t)outputs[k].count * sizeof(float));
  (void)error;
  (void)error_size;
  return 0;
}

static int failing_load(void* context, char* error, size_t error_size) {
  (void)context;
  snprintf(error, error_size, "no compiled model in the bundle");
  return 1;
}

static int failing_backend(void* context, const char* subgraph, const rv_tensor* inputs, int num_inputs,
                           rv_tensor* outputs, int num_outputs, char* error, size_t error_size) {
  (void)context, (void)subgraph, (void)inputs, (void)num_inputs, (void)outputs, (void)num_outputs;
  snprintf(error, error_size, "the model is not loaded");
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: reusevos-c-api-test BUNDLE CLIP_DIR OUT_DIR\n");
    return 2;
  }
  const char *bundle = argv[1], *clip = argv[2], *out = argv[3];
  char path[4096];
  rv_error error;
  rv_tracker* tracker = rv_tracker_open(bundle, NAN, INT_MIN, 1, &error);
  if (tracker == NULL) {
    fprintf(stderr, "open: %s\n", error.message);
    return 1;
  }
  snprintf(path, sizeof path, "%s/labels", out);
  mkdir(out, 0755);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/records.json", out);
  FILE* records = fopen(path, "w");
  fprintf(records, "{\"frames\":[");
  int width = 0, height = 0, frames = 0;
  unsigned char* first = NULL;
  for (int i = 0;; ++i) {
    snprintf(path, sizeof path, "%s/%05d.ppm", clip, i);
    unsigned char* rgb = read_pnm(path, &width, &height, 3);
    if (rgb == NULL) break;
    int ids[8], n = 0, mw = 0, mh = 0;
    unsigned char* masks[8];
    snprintf(path, sizeof path, "%s/start_%05d.pgm", clip, i);
    unsigned char* start = read_pnm(path, &mw, &mh, 1);
    for (int id = 1; start != NULL && id < 255 && n < 8; ++id) {
      unsigned char* m = calloc((size_t)width * height, 1);
      int any = 0;
      for (long p = 0; p < (long)width * height; ++p) any |= (m[p] = start[p] == id);
      if (any) ids[n] = id, masks[n++] = m;
      else free(m);
    }
    unsigned char* labels = malloc((size_t)width * height);
    const char* record = NULL;
    if (rv_tracker_step(tracker, rgb, width, height, RV_RGB, (int64_t)width * 3, ids, (const uint8_t* const*)masks, n, labels,
                        &record, &error) != 0) {
      fprintf(stderr, "frame %d: %s\n", i, error.message);
      return 1;
    }
    fprintf(records, "%s%s", i ? "," : "", record);
    snprintf(path, sizeof path, "%s/labels/%05d.pgm", out, i);
    write_pgm(path, labels, width, height);
    for (int k = 0; k < n; ++k) free(masks[k]);
    free(start);
    free(labels);
    if (i == 0) first = rgb;
    else free(rgb);
    frames = i + 1;
  }
  fprintf(records, "]}\n");
  fclose(records);

  /* bad calls: each prints its error; the tracker stays usable */
  unsigned char* labels = malloc((size_t)width * height);
  unsigned char* empty = calloc((size_t)width * height, 1);
  int one = 1, three_hundred = 300;
  const uint8_t* empty_mask[1] = {empty};
  const char* record = NULL;
  if (rv_tracker_open("/nonexistent/bundle", NAN, INT_MIN, 1, &error) == NULL) printf("error: %s\n", error.message);
  if (rv_tracker_step(tracker, first, width, height, RV_RGB, (int64_t)width * 3, &one, empty_mask, 1, labels, &record, &error))
    printf("error: %s\n", error.message);
  if (rv_tracker_step(tracker, first, width / 2, height, RV_RGB, (int64_t)width * 3, NULL, NULL, 0, labels, &record, &error))
    printf("error: %s\n", error.message);
  if (rv_tracker_step(tracker, first, width, height, 5, (int64_t)width * 5, NULL, NULL, 0, labels, &record, &error))
    printf("error: %s\n", error.message);
  if (rv_tracker_remove_object(tracker, three_hundred, &error)) printf("error: %s\n", error.message);
  int tracked[8];
  printf("objects: %d after %d frames\n", rv_tracker_object_ids(tracker, tracked, 8), frames);
  rv_tracker_close(tracker);

  /* the caller's backend: every subgraph call goes through it */
  int calls = 0;
  rv_backend zeros = {&calls, zero_backend};
  rv_tracker* custom = rv_tracker_open_with(bundle, &zeros, NAN, INT_MIN, &error);
  unsigned char* whole = malloc((size_t)width * height);
  memset(whole, 1, (size_t)width * height);
  const uint8_t* whole_mask[1] = {whole};
  if (custom == NULL || rv_tracker_step(custom, first, width, height, RV_RGB, (int64_t)width * 3, &one, whole_mask, 1, labels,
                                        &record, &error) != 0) {
    fprintf(stderr, "caller backend: %s\n", error.message);
    return 1;
  }
  printf("callback: %d calls, record %s\n", calls, record);
  rv_tracker_close(custom);
  rv_backend broken = {NULL, failing_backend};
  custom = rv_tracker_open_with(bundle, &broken, NAN, INT_MIN, &error);
  if (rv_tracker_step(custom, first, width, height, RV_RGB, (int64_t)width * 3, &one, whole_mask, 1, labels, &record, &error))
    printf("error: %s\n", error.message);
  rv_tracker_close(custom);
  rv_backend unloadable = {NULL, zero_backend, "unloadable", failing_load};
  if (rv_tracker_open_with(bundle, &unloadable, NAN, INT_MIN, &error) == NULL) printf("error: %s\n", error.message);

  /* the benchmark protocol over the caller's backend: its name reaches the measurement's notes */
  calls = 0;
  rv_backend named = {&calls, zero_backend, "zeros"};
  const uint8_t* two_frames[2] = {first, first};
  char options[4200];
  snprintf(options, sizeof options, "{\"bundle\": \"%s\", \"cooldown_s\": 0, \"warmup\": 1}", bundle);
  char* doc = rv_benchmark(options, two_frames, 2, width, height, RV_RGB, (int64_t)width * 3, &one, whole_mask, 1, &named, NULL,
                           &error);
  if (doc == NULL) {
    fprintf(stderr, "benchmark: %s\n", error.message);
    return 1;
  }
  printf("benchmark: %d calls, %s", calls, strstr(doc, "\"notes\""));
  rv_free(doc);
  free(first), free(labels), free(empty), free(whole);
  return 0;
}
