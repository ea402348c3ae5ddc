// JNI binding of the native tracker core: org.reusevos.NativeTracker (java/org/reusevos/NativeTracker.java).
// reusevos::Error (bad input) -> IllegalArgumentException; any other failure -> RuntimeException.
#include <jni.h>

#include <memory>
#include <string>

#include "reusevos/benchmark.hpp"
#include "reusevos/error.hpp"
#include "reusevos/executorch_backend.hpp"
#include "reusevos/manifest.hpp"
#include "reusevos/session.hpp"
#include "reusevos/tracker.hpp"

namespace {

using namespace reusevos;

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

std::string text(JNIEnv* env, jstring s, const std::string& what) {
  if (s == nullptr) throw Error(what + ": expected a string, got null");
  const char* chars = env->GetStringUTFChars(s, nullptr);
  std::string out(chars);
  env->ReleaseStringUTFChars(s, chars);
  return out;
}

// A direct ByteBuffer's bytes, checked to hold `height` rows of `width * channels` bytes `stride` apart.
const uint8_t* pixels_of(JNIEnv* env, jobject buffer, jint width, jint height, jint channels, jint stride,
                         const std::string& what) {
  auto* data = buffer == nullptr ? nullptr : static_cast<const uint8_t*>(env->GetDirectBufferAddress(buffer));
  if (data == nullptr) throw Error(what + ": expected a direct ByteBuffer");
  jlong capacity = env->GetDirectBufferCapacity(buffer);
  if (height <= 0 || width <= 0 || capacity < static_cast<jlong>(stride) * (height - 1) + static_cast<jlong>(width) * channels)
    throw Error(what + ": " + std::to_string(capacity) + " bytes cannot hold " + std::to_string(width) + "x" +
                std::to_string(height) + "x" + std::to_string(channels) + " with row stride " + std::to_string(stride));
  return data;
}

// ids[k] -> masks[k] (byte arrays, nonzero = object).
std::map<int, Mask> masks_of(JNIEnv* env, jintArray new_ids, jobjectArray new_masks) {
  std::map<int, Mask> masks;
  jsize n = env->GetArrayLength(new_ids);
  if (new_masks == nullptr || env->GetArrayLength(new_masks) != n)
    throw Error("newIds and newMasks: expected one mask per id");
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
  return masks;
}

// NativeTracker.Probe (a Java object) as the benchmark's probe; a Java exception in it becomes an Error.
class JavaProbe : public BenchmarkProbe {
 public:
  JavaProbe(JNIEnv* env, jobject probe) : env_(env), probe_(probe) {
    jclass cls = env->GetObjectClass(probe);
    begin_ = env->GetMethodID(cls, "begin", "()V");
    end_ = env->GetMethodID(cls, "end", "(I)Ljava/lang/String;");
  }
  void begin() override {
    env_->CallVoidMethod(probe_, begin_);
    check("begin");
  }
  std::string end(int frames) override {
    auto s = static_cast<jstring>(env_->CallObjectMethod(probe_, end_, frames));
    check("end");
    if (s == nullptr) throw Error("benchmark probe: end() returned null, expected a JSON object");
    return text(env_, s, "benchmark probe end()");
  }

 private:
  void check(const char* what) {
    if (env_->ExceptionCheck()) {
      env_->ExceptionClear();
      throw std::runtime_error(std::string("benchmark probe: ") + what + "() threw");
    }
  }
  JNIEnv* env_;
  jobject probe_;
  jmethodID begin_, end_;
};

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_org_reusevos_NativeTracker_open(JNIEnv* env, jclass, jstring bundle_dir, jdouble tau,
                                                            jint keyframe_bound, jint num_threads) {
  return guarded(env, jlong(0), [&]() -> jlong {
    auto s = Session::open(text(env, bundle_dir, "bundleDir"), tau, keyframe_bound, executorch_factory(num_threads));
    return reinterpret_cast<jlong>(s.release());
  });
}

JNIEXPORT jobject JNICALL Java_org_reusevos_NativeTracker_step(JNIEnv* env, jclass, jlong handle, jobject pixels,
                                                              jint width, jint height, jint channels, jint stride,
                                                              jintArray new_ids, jobjectArray new_masks) {
  return guarded(env, jobject(nullptr), [&]() -> jobject {
    const uint8_t* data = pixels_of(env, pixels, width, height, channels, stride, "pixels");
    std::map<int, Mask> masks = masks_of(env, new_ids, new_masks);
    ImageView view{data, height, width, channels, stride};
    Session* s = session(handle);
    FrameResult& r = s->result;
    s->tracker->step(view, masks, r);
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

JNIEXPORT jstring JNICALL Java_org_reusevos_NativeTracker_benchmark0(JNIEnv* env, jclass, jstring options,
                                                                    jobjectArray frames, jint width, jint height,
                                                                    jint channels, jint stride, jintArray first_ids,
                                                                    jobjectArray first_masks, jobject probe) {
  return guarded(env, jstring(nullptr), [&]() -> jstring {
    BenchmarkOptions o = BenchmarkOptions::from_json(text(env, options, "options"));
    if (frames == nullptr || probe == nullptr) throw Error("benchmark: frames and probe must not be null");
    BenchmarkClip clip;
    std::vector<jobject> keep;  // local references to the buffers, alive for the run
    if (env->EnsureLocalCapacity(env->GetArrayLength(frames) + 16) != 0) throw Error("benchmark: too many frames");
    for (jsize i = 0; i < env->GetArrayLength(frames); ++i) {
      keep.push_back(env->GetObjectArrayElement(frames, i));
      const uint8_t* data = pixels_of(env, keep.back(), width, height, channels, stride, "frame " + std::to_string(i));
      clip.frames.push_back(ImageView{data, height, width, channels, stride});
    }
    clip.starts[0] = masks_of(env, first_ids, first_masks);
    JavaProbe java_probe(env, probe);
    return env->NewStringUTF(run_benchmark(o, clip, java_probe, {"ExecuTorch", executorch_factory(o.threads)}).c_str());
  });
}

JNIEXPORT void JNICALL Java_org_reusevos_NativeTracker_close(JNIEnv*, jclass, jlong handle) {
  delete session(handle);
}

}  // extern "C"
