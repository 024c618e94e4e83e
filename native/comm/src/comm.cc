// N-API binding of Gloo's collectives for CPU ranks (src/distributed/gloo.ts is the
// TypeScript side). One Communicator per process: connect() runs Gloo's
// full-mesh rendezvous (TCP transport) on a worker thread and resolves a
// Promise, so the event loop (and rank 0's rendezvous store server, which lives
// on it) keeps running while peers start; the collectives themselves are
// synchronous, called from the trainer's synchronous step like the compute
// kernels, and bounded by the context timeout. A peer that exits closes its
// sockets, so a collective with a dead peer fails at once with Gloo's
// "Connection closed by peer" instead of waiting for the timeout.
// What it is not: no CUDA/NCCL here (docs/DISTRIBUTED.md says where it goes).
#include <napi.h>

#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <gloo/config.h>
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include "tcp_store.h"

namespace {

struct ConnectSpec {
  int rank = 0, size = 1;
  std::string storeKind, storeHost, storePath, prefix, bindHost, iface;
  int storePort = 0;
  int64_t timeoutMs = 60000;
};

struct Bytes {
  void* ptr;
  size_t bytes;
  napi_typedarray_type type;
};

Bytes bytesOf(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a typed array");
  auto ta = v.As<Napi::TypedArray>();
  auto ab = ta.ArrayBuffer();
  return {static_cast<char*>(ab.Data()) + ta.ByteOffset(), ta.ByteLength(), ta.TypedArrayType()};
}

class ConnectWorker;

class Communicator : public Napi::ObjectWrap<Communicator> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Communicator", {
      InstanceMethod("connect", &Communicator::Connect),
      InstanceMethod("allReduce", &Communicator::AllReduce),
      InstanceMethod("reduceScatter", &Communicator::ReduceScatter),
      InstanceMethod("allGather", &Communicator::AllGather),
      InstanceMethod("broadcast", &Communicator::Broadcast),
      InstanceMethod("barrier", &Communicator::Barrier),
      InstanceMethod("close", &Communicator::Close),
    });
  }
  explicit Communicator(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Communicator>(info) {}

  std::shared_ptr<gloo::rendezvous::Context> ctx;
  bool busy = false;

 private:
  gloo::Context& need(const Napi::Env& env, const char* op) {
    if (!ctx) throw Napi::Error::New(env, std::string("gloo ") + op + ": the communicator is not connected (or was closed)");
    return *ctx;
  }

  template <typename F>
  void guarded(const Napi::Env& env, const char* op, F&& f) {
    try {
      f();
    } catch (const Napi::Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, std::string("gloo ") + op + " (rank " + std::to_string(ctx ? ctx->rank : -1) + "): " + e.what());
    }
  }

  Napi::Value Connect(const Napi::CallbackInfo& info);

  // allReduce(buf: Float32Array | Float64Array): element-wise sum over ranks, in place
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto& c = need(env, "allReduce");
    Bytes b = bytesOf(info[0], "allReduce");
    guarded(env, "allReduce", [&] {
      gloo::AllreduceOptions opts(ctx);
      if (b.type == napi_float32_array) {
        opts.setOutput(static_cast<float*>(b.ptr), b.bytes / 4);
        opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      } else if (b.type == napi_float64_array) {
        opts.setOutput(static_cast<double*>(b.ptr), b.bytes / 8);
        opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<double>));
      } else {
        throw Napi::TypeError::New(env, "gloo allReduce: Float32Array or Float64Array expected");
      }
      opts.setTag(nextTag());
      (void)c;
      gloo::allreduce(opts);
    });
    return env.Undefined();
  }

  // reduceScatter(buf: Float32Array of size x world, equal shards): rank r's shard of the sum lands at buf[r*n, (r+1)*n)
  Napi::Value ReduceScatter(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto& c = need(env, "reduceScatter");
    Bytes b = bytesOf(info[0], "reduceScatter");
    if (b.type != napi_float32_array) throw Napi::TypeError::New(env, "gloo reduceScatter: Float32Array expected");
    size_t n = b.bytes / 4;
    if (n % static_cast<size_t>(c.size) != 0) throw Napi::RangeError::New(env, "gloo reduceScatter: length " + std::to_string(n) + " is not a multiple of the world size " + std::to_string(c.size));
    if (n > 0x7fffffffu) throw Napi::RangeError::New(env, "gloo reduceScatter: at most 2^31-1 elements per call");
    guarded(env, "reduceScatter", [&] {
      if ((c.size & (c.size - 1)) == 0) {
        // Halving-doubling leaves rank r holding shard rev(r) (its index with log2 W bits reversed; measured,
        // and the identity for W = 2): lay the input out so that slot rev(p) holds shard p, then move ours home
        float* x = static_cast<float*>(b.ptr);
        const size_t s = n / c.size;
        const int bits = __builtin_ctz(static_cast<unsigned>(c.size));
        auto rev = [&](int r) { int o = 0; for (int k = 0; k < bits; k++) if (r & (1 << k)) o |= 1 << (bits - 1 - k); return o; };
        if (c.size > 2) {
          std::vector<float> tmp(x, x + n);
          for (int p = 0; p < c.size; p++) std::memcpy(x + rev(p) * s, tmp.data() + p * s, s * sizeof(float));
        }
        algorithmFor(x, n).run();
        if (c.size > 2 && rev(c.rank) != c.rank) std::memcpy(x + c.rank * s, x + rev(c.rank) * s, s * sizeof(float));
      } else {
        // Gloo's halving-doubling reduce-scatter leaves the shards of a non-power-of-two world elsewhere
        // than at rank x n/W (measured with 3 ranks): reduce the whole buffer (twice the traffic) instead
        gloo::AllreduceOptions opts(ctx);
        opts.setOutput(static_cast<float*>(b.ptr), n);
        opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
        opts.setTag(nextTag());
        gloo::allreduce(opts);
      }
    });
    return env.Undefined();
  }

  // allGather(shard, out): out (world x shard bytes) receives every rank's shard in rank order
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto& c = need(env, "allGather");
    Bytes in = bytesOf(info[0], "allGather input"), out = bytesOf(info[1], "allGather output");
    if (out.bytes != in.bytes * static_cast<size_t>(c.size)) throw Napi::RangeError::New(env, "gloo allGather: output has " + std::to_string(out.bytes) + " bytes, expected world x input = " + std::to_string(in.bytes * c.size));
    guarded(env, "allGather", [&] {
      gloo::AllgatherOptions opts(ctx);
      opts.setInput(static_cast<uint8_t*>(in.ptr), in.bytes);
      opts.setOutput(static_cast<uint8_t*>(out.ptr), out.bytes);
      opts.setTag(nextTag());
      gloo::allgather(opts);
    });
    return env.Undefined();
  }

  // broadcast(buf, root): every rank's buf becomes root's, in place
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto& c = need(env, "broadcast");
    Bytes b = bytesOf(info[0], "broadcast");
    int root = info[1].As<Napi::Number>().Int32Value();
    if (root < 0 || root >= c.size) throw Napi::RangeError::New(env, "gloo broadcast: root " + std::to_string(root) + " is outside the world of " + std::to_string(c.size));
    guarded(env, "broadcast", [&] {
      gloo::BroadcastOptions opts(ctx);
      opts.setOutput(static_cast<uint8_t*>(b.ptr), b.bytes);
      opts.setRoot(root);
      opts.setTag(nextTag());
      gloo::broadcast(opts);
    });
    return env.Undefined();
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    need(env, "barrier");
    guarded(env, "barrier", [&] {
      gloo::BarrierOptions opts(ctx);
      opts.setTag(nextTag());
      gloo::barrier(opts);
    });
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    cache_.clear();
    if (ctx) {
      try { ctx->closeConnections(); } catch (...) {}
      ctx.reset();
    }
    return info.Env().Undefined();
  }

  uint32_t nextTag() { return tag_++ & 0xffffff; }

  // Gloo's reduce-scatter is an old-style Algorithm bound to one buffer: keep the last few
  gloo::ReduceScatterHalvingDoubling<float>& algorithmFor(float* ptr, size_t n) {
    for (auto it = cache_.begin(); it != cache_.end(); ++it)
      if (std::get<0>(*it) == ptr && std::get<1>(*it) == n) {
        cache_.splice(cache_.begin(), cache_, it);
        return *std::get<2>(cache_.front());
      }
    std::vector<int> counts(ctx->size, static_cast<int>(n / ctx->size));
    auto algo = std::make_unique<gloo::ReduceScatterHalvingDoubling<float>>(ctx, std::vector<float*>{ptr}, static_cast<int>(n), counts);
    cache_.emplace_front(ptr, n, std::move(algo));
    if (cache_.size() > 4) cache_.pop_back();
    return *std::get<2>(cache_.front());
  }

  uint32_t tag_ = 1;
  std::list<std::tuple<float*, size_t, std::unique_ptr<gloo::ReduceScatterHalvingDoubling<float>>>> cache_;
};

class ConnectWorker : public Napi::AsyncWorker {
 public:
  ConnectWorker(Napi::Env env, Communicator* comm, ConnectSpec spec)
      : Napi::AsyncWorker(env), comm_(comm), spec_(std::move(spec)), deferred_(Napi::Promise::Deferred::New(env)) {
    self_ = Napi::Persistent(comm->Value());
  }
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      gloo::transport::tcp::attr attr;
      if (!spec_.iface.empty()) attr.iface = spec_.iface; else attr.hostname = spec_.bindHost;
      auto dev = gloo::transport::tcp::CreateDevice(attr);
      auto ctx = std::make_shared<gloo::rendezvous::Context>(spec_.rank, spec_.size);
      ctx->setTimeout(std::chrono::milliseconds(spec_.timeoutMs));
      std::unique_ptr<gloo::rendezvous::Store> base;
      if (spec_.storeKind == "file") base = std::make_unique<gloo::rendezvous::FileStore>(spec_.storePath);
      else base = std::make_unique<b2comm::TcpStore>(spec_.storeHost, spec_.storePort, std::chrono::milliseconds(spec_.timeoutMs));
      gloo::rendezvous::PrefixStore store(spec_.prefix, *base);
      ctx->connectFullMesh(store, dev);
      // tell the store's host (rank 0) that this rank no longer needs it: it may close once all have said so
      store.set("connected/" + std::to_string(spec_.rank), std::vector<char>{1});
      ctx_ = ctx;
    } catch (const std::exception& e) {
      SetError(std::string("gloo rendezvous (rank ") + std::to_string(spec_.rank) + " of " + std::to_string(spec_.size) + "): " + e.what());
    }
  }
  void OnOK() override {
    comm_->ctx = ctx_;
    comm_->busy = false;
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    comm_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Communicator* comm_;
  Napi::ObjectReference self_;
  ConnectSpec spec_;
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<gloo::rendezvous::Context> ctx_;
};

Napi::Value Communicator::Connect(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (ctx || busy) throw Napi::Error::New(env, "gloo connect: already connected");
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "gloo connect: options object expected");
  auto o = info[0].As<Napi::Object>();
  auto str = [&](const char* k) { auto v = o.Get(k); return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); };
  auto num = [&](const char* k) { auto v = o.Get(k); return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : int64_t(-1); };
  ConnectSpec s;
  s.rank = static_cast<int>(num("rank"));
  s.size = static_cast<int>(num("size"));
  s.storeKind = str("storeKind");
  s.storeHost = str("storeHost");
  s.storePort = static_cast<int>(num("storePort"));
  s.storePath = str("storePath");
  s.prefix = str("prefix");
  s.bindHost = str("bindHost");
  s.iface = str("iface");
  s.timeoutMs = num("timeoutMs");
  if (s.size < 1 || s.rank < 0 || s.rank >= s.size) throw Napi::RangeError::New(env, "gloo connect: rank " + std::to_string(s.rank) + " is outside a world of " + std::to_string(s.size));
  if (s.timeoutMs <= 0) throw Napi::RangeError::New(env, "gloo connect: timeoutMs must be positive");
  if (s.storeKind != "tcp" && s.storeKind != "file") throw Napi::TypeError::New(env, "gloo connect: storeKind must be 'tcp' or 'file'");
  if (s.storeKind == "tcp" && (s.storeHost.empty() || s.storePort <= 0 || s.storePort > 65535)) throw Napi::RangeError::New(env, "gloo connect: storeHost and a storePort in 1..65535 are needed");
  if (s.storeKind == "file" && s.storePath.empty()) throw Napi::TypeError::New(env, "gloo connect: storePath is needed");
  if (s.bindHost.empty() && s.iface.empty()) s.bindHost = "127.0.0.1";
  busy = true;
  auto* w = new ConnectWorker(env, this, s);
  auto p = w->promise();
  w->Queue();
  return p;
}

}  // namespace

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("Communicator", Communicator::Init(env));
  exports.Set("glooVersion", Napi::Number::New(env, GLOO_VERSION));
  return exports;
}

NODE_API_MODULE(baichuan2_comm, InitAll)
