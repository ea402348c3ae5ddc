// JNI binding of the native tracker core: org.reusevos.NativeTracker (java/org/reusevos/NativeTracker.java).
// reusevos::Error (bad input) -> IllegalArgumentException; any other failure -> RuntimeException.
#include <jni.h>

#include <cmath>
#include <climits>
#include <memory>
#include <string>

#include "reusevos/error.hpp"
#include "reusevos/executorch_backend.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/tracker.hpp"

namespace {

using namespace reusevos;

struct Session {
  Manifest manifest;
  std::unique_ptr<ExecuTorchBackend> backend;
  std::unique_ptr<Tracker> tracker;
};

Session* session(jlong handle) { return reinterpret_cast<Session*>(handle); }

void throw_java(JNIEnv* env, const char* cls, const std::string& message) {
  jclass c = env->FindClass(cls);
  if (c != nullptr) env->ThrowNew(c, message.c_str());
}

// Runs `body`, turning C++ exceptions into Java ones.
template <typename F, typename R>
R guarded(JNIEnv* env, R fallback, F body) {
  try {
    return body();
  } catch (const Error& e) {
    throw_java(env, "java/lang/IllegalArgumentException", e.what());
  } catch (const std::exception& e) {
    throw_java(env, "java/lang/RuntimeException", e.what());
  }
  return fallback;
}

std::string text(JNIEnv* env, jstring s) {
  if (s == nullptr) throw Error("bundleDir: expected a folder path, got null");
  const char* chars = env->GetStringUTFChars(s, nullptr);
  std::string out(chars);
  env->ReleaseStringUTFChars(s, chars);
  return out;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_reusevos_NativeTracker_open(JNIEnv* env, jclass, jstring bundle_dir, jdouble tau,
                                                            jint keyframe_bound, jint num_threads) {
  return guarded(env, jlong(0), [&]() -> jlong {
    auto s = std::make_unique<Session>();
    s->manifest = load_manifest(text(env, bundle_dir));
    TrackerConfig config = s->manifest.tracker;
    if (!std::isnan(tau)) config.tau = tau;
    if (keyframe_bound != INT_MIN) config.keyframe_bound = keyframe_bound < 0 ? -1 : keyframe_bound;
    config.validate();
    s->backend = std::make_unique<ExecuTorchBackend>(s->manifest, num_threads);
    s->tracker = std::make_unique<Tracker>(s->manifest, *s->backend, config);
    return reinterpret_cast<jlong>(s.release());
  });
}

JNIEXPORT jobject JNICALL Java_org_reusevos_NativeTracker_step(JNIEnv* env, jclass, jlong handle, jobject pixels,
                                                              jint width, jint height, jint channels, jint stride,
                                                              jintArray new_ids, jobjectArray new_masks) {
  return guarded(env, jobject(nullptr), [&]() -> jobject {
    auto* data = static_cast<const uint8_t*>(env->GetDirectBufferAddress(pixels));
    jlong capacity = env->GetDirectBufferCapacity(pixels);
    if (data == nullptr) throw Error("pixels: expected a direct ByteBuffer");
    if (height <= 0 || width <= 0 || capacity < static_cast<jlong>(stride) * (height - 1) + static_cast<jlong>(width) * channels)
      throw Error("pixels: " + std::to_string(capacity) + " bytes cannot hold " + std::to_string(width) + "x" +
                  std::to_string(height) + "x" + std::to_string(channels) + " with row stride " + std::to_string(stride));
    std::map<int, Mask> masks;
    jsize n = env->GetArrayLength(new_ids);
    std::vector<jint> ids(static_cast<size_t>(n));
    if (n > 0) env->GetIntArrayRegion(new_ids, 0, n, ids.data());
    for (jsize k = 0; k < n; ++k) {
      auto arr = static_cast<jbyteArray>(env->GetObjectArrayElement(new_masks, k));
      if (arr == nullptr) throw Error("mask of object " + std::to_string(ids[k]) + ": null");
      Mask m(static_cast<size_t>(env->GetArrayLength(arr)));
      env->GetByteArrayRegion(arr, 0, static_cast<jsize>(m.size()), reinterpret_cast<jbyte*>(m.data()));
      env->DeleteLocalRef(arr);
      masks[ids[k]] = std::move(m);
    }
    ImageView view{data, height, width, channels, stride};
    FrameResult r = session(handle)->tracker->step(view, masks);
    jbyteArray labels = env->NewByteArray(static_cast<jsize>(r.labels.size()));
    env->SetByteArrayRegion(labels, 0, static_cast<jsize>(r.labels.size()), reinterpret_cast<const jbyte*>(r.labels.data()));
    jclass cls = env->FindClass("org/reusevos/NativeTracker$Result");
    jmethodID ctor = env->GetMethodID(cls, "<init>", "([BIILjava/lang/String;)V");
    return env->NewObject(cls, ctor, labels, r.width, r.height, env->NewStringUTF(r.record.to_json().c_str()));
  });
}

JNIEXPORT void JNICALL Java_org_reusevos_NativeTracker_reset(JNIEnv* env, jclass, jlong handle) {
  guarded(env, 0, [&] { session(handle)->tracker->reset(); return 0; });
}

JNIEXPORT void JNICALL Java_org_reusevos_NativeTracker_removeObject(JNIEnv* env, jclass, jlong handle, jint id) {
  guarded(env, 0, [&] { session(handle)->tracker->remove_object(id); return 0; });
}

JNIEXPORT jintArray JNICALL Java_org_reusevos_NativeTracker_objectIds(JNIEnv* env, jclass, jlong handle) {
  return guarded(env, jintArray(nullptr), [&]() -> jintArray {
    std::vector<int> ids = session(handle)->tracker->object_ids();
    jintArray out = env->NewIntArray(static_cast<jsize>(ids.size()));
    std::vector<jint> values(ids.begin(), ids.end());
    env->SetIntArrayRegion(out, 0, static_cast<jsize>(values.size()), values.data());
    return out;
  });
}

JNIEXPORT void JNICALL Java_org_reusevos_NativeTracker_close(JNIEnv*, jclass, jlong handle) {
  delete session(handle);
}

}  // extern "C"
