// bench/gemm_bench.cpp — ops::gemm against oneDNN's matmul, side by side in one process.
//
//   BM_gemm/medkern/<dtype>/<M>x<K>x<N>            ops::gemm, B prepacked outside the timing
//   BM_gemm/medkern_pack/<dtype>/<M>x<K>x<N>       PackedB construction alone
//   BM_gemm/onednn/<dtype>/<M>x<K>x<N>             matmul primitive on plain ab memory
//   BM_gemm/onednn_prepacked/<dtype>/<M>x<K>x<N>   matmul with weights in oneDNN's preferred
//                                                  (format_tag::any) layout, reordered outside
//   BM_gemm/onednn_pack/<dtype>/<M>x<K>x<N>        that weight reorder alone
//   BM_peak/<probe>/threads:<n>                    the probes at medkern's thread count
// dtypes: f32 (f32 x f32 -> f32), bf16 (bf16 x bf16 -> f32), u8s8s32 (u8 x s8 -> s32).
//
// Both libraries get the same values in their own buffers (oneDNN in memory it allocated).
// Primitives are created outside the timed loop; s.wait() is inside it. Before any timing,
// each (dtype, shape) is verified: medkern's C against oneDNN's (both layouts), elementwise,
// and medkern against a scalar reference at sample points; the side that disagrees with the
// reference is SkipWithError'd, so no wrong result is ever timed.
// Threads: medkern uses num_threads() (all cores unless MEDKERN_NUM_THREADS says otherwise);
// this oneDNN build (SYCL CPU runtime) cannot be given a thread count and uses all cores, so
// only the all-cores comparison is meaningful. Real time. Counters: GFLOP/s (GOP/s for s8) and
// pct_peak against ops::measure_peak(num_threads()) of the matching family.
// Shapes: "M K N" per line; env MEDKERN_BENCH_GEMM_SHAPES overrides the compiled-in file.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

// ops/gemm.hpp first: it names medkern::detail as `detail::` from inside namespace ops, which
// resolves wrongly once another header (ops/peak.hpp) has declared medkern::ops::detail.
#include "medkern/ops/gemm.hpp"
// (keep this order)
#include "bench_common.hpp"
#include "medkern/core/buffer.hpp"
#include "medkern/kernels/peak/probe.hpp"
#include "medkern/ops/peak.hpp"

#ifdef MEDKERN_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using namespace medkern;
using i64 = std::int64_t;

struct Shape {
  i64 M, K, N;
  std::string name() const {
    return std::to_string(M) + "x" + std::to_string(K) + "x" + std::to_string(N);
  }
};

template <class TA, class TB, class TC>
struct Types {
  using A = TA;
  using B = TB;
  using C = TC;
};
using F32 = Types<float, float, float>;
using BF16 = Types<bf16, bf16, float>;
using U8S8 = Types<std::uint8_t, std::int8_t, std::int32_t>;

template <class T> constexpr const char* kind_name();
template <> constexpr const char* kind_name<F32>() { return "f32"; }
template <> constexpr const char* kind_name<BF16>() { return "bf16"; }
template <> constexpr const char* kind_name<U8S8>() { return "u8s8s32"; }

template <class T>
double peak_for() {
  const ops::PeakNumbers p = ops::measure_peak(num_threads());
  if constexpr (std::is_same_v<T, F32>) return p.f32_gflops;
  else if constexpr (std::is_same_v<T, BF16>) return p.bf16_gflops;
  else return p.s8_gops;
}

template <class T> double to_double(T x) { return double(x); }
template <> double to_double<bf16>(bf16 x) { return double(float(x)); }

#ifdef MEDKERN_HAVE_DNNL
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
template <class T> constexpr dt dnnl_type();
template <> constexpr dt dnnl_type<float>() { return dt::f32; }
template <> constexpr dt dnnl_type<bf16>() { return dt::bf16; }
template <> constexpr dt dnnl_type<std::uint8_t>() { return dt::u8; }
template <> constexpr dt dnnl_type<std::int8_t>() { return dt::s8; }
template <> constexpr dt dnnl_type<std::int32_t>() { return dt::s32; }

/// The CPU engine and stream, created once; `error` is set when oneDNN cannot start.
struct Dnnl {
  dnnl::engine eng;
  dnnl::stream s;
  std::string error;
  static Dnnl& get() {
    static Dnnl d = [] {
      Dnnl x;
      try {
        x.eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
        x.s = dnnl::stream(x.eng);
      } catch (const std::exception& e) {
        x.error = std::string("oneDNN CPU engine unavailable: ") + e.what();
      }
      return x;
    }();
    return d;
  }
};

template <class T>
void copy_to(dnnl::memory& m, const T* src, i64 n) {
  void* p = m.map_data();
  std::memcpy(p, src, std::size_t(n) * sizeof(T));
  m.unmap_data(p);
}
template <class T>
void copy_from(dnnl::memory& m, T* dst, i64 n) {
  void* p = m.map_data();
  std::memcpy(dst, p, std::size_t(n) * sizeof(T));
  m.unmap_data(p);
}
#endif

/// Everything of one (dtype, shape): inputs, medkern's packed B and C, oneDNN's primitives
/// and memories, and the verification outcome of each side.
template <class T>
struct Case {
  using TA = typename T::A;
  using TB = typename T::B;
  using TC = typename T::C;
  Shape s;
  AlignedBuffer<TA> a;
  AlignedBuffer<TB> b;
  AlignedBuffer<TC> c;
  ops::PackedB<TB> pb;
  std::string medkern_error, onednn_error;
#ifdef MEDKERN_HAVE_DNNL
  dnnl::memory a_mem, b_mem, b_packed_mem, c_mem;
  dnnl::matmul plain, prepacked;
  dnnl::reorder b_reorder;
  std::string impl_plain, impl_prepacked;
#endif

  explicit Case(const Shape& sh) : s(sh), a(sh.M * sh.K), b(sh.K * sh.N), c(sh.M * sh.N) {
    bench::fill(a.data(), a.size(), 11);
    bench::fill(b.data(), b.size(), 12);
    pb = ops::PackedB<TB>(b.data(), s.N, s.K, s.N);
    try {
      ops::gemm(s.M, a.data(), s.K, pb, c.data(), s.N);
    } catch (const std::exception& e) {
      medkern_error = std::string("medkern gemm failed: ") + e.what();
    }
    if (medkern_error.empty()) medkern_error = spot_check(c.data(), "medkern");
#ifdef MEDKERN_HAVE_DNNL
    setup_dnnl();
#else
    onednn_error = "built without oneDNN";
#endif
  }

  /// Scalar reference of C[m][n] (exact: double sums of exact products of small values).
  double ref(i64 m, i64 n) const {
    double acc = 0;
    for (i64 k = 0; k < s.K; ++k) acc += to_double(a[m * s.K + k]) * to_double(b[k * s.N + n]);
    return acc;
  }

  static bool close(double x, double y, i64 K) {
    if constexpr (std::is_same_v<TC, std::int32_t>) return x == y;
    return std::fabs(x - y) <= 1e-6 * double(K) + 1e-6 * std::fabs(y);
  }

  /// Compares `out` with the reference at the corners and ~250 sample points.
  std::string spot_check(const TC* out, const char* who) const {
    std::vector<std::pair<i64, i64>> pts = {
        {0, 0}, {0, s.N - 1}, {s.M - 1, 0}, {s.M - 1, s.N - 1}};
    bench::Rng r(99);
    for (int i = 0; i < 250; ++i)
      pts.emplace_back(i64(r.next() % std::uint64_t(s.M)), i64(r.next() % std::uint64_t(s.N)));
    for (auto [m, n] : pts) {
      const double x = to_double(out[m * s.N + n]), y = ref(m, n);
      if (!close(x, y, s.K)) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s wrong at (m=%lld, n=%lld): %.9g, reference %.9g", who,
                      (long long)m, (long long)n, x, y);
        return buf;
      }
    }
    return {};
  }

#ifdef MEDKERN_HAVE_DNNL
  /// Elementwise comparison of oneDNN's C with medkern's; on a mismatch the scalar reference
  /// at that element decides which side is wrong.
  void compare(const std::vector<TC>& theirs, const char* what) {
    for (i64 i = 0; i < s.M * s.N; ++i) {
      const double x = to_double(c[i]), y = to_double(theirs[std::size_t(i)]);
      if (close(x, y, s.K)) continue;
      const i64 m = i / s.N, n = i % s.N;
      const double z = ref(m, n);
      char buf[240];
      std::snprintf(buf, sizeof buf,
                    "medkern and %s disagree at (m=%lld, n=%lld): %.9g vs %.9g, reference %.9g",
                    what, (long long)m, (long long)n, x, y, z);
      if (!close(x, z, s.K) && medkern_error.empty()) medkern_error = buf;
      if (!close(y, z, s.K) && onednn_error.empty()) onednn_error = buf;
      if (close(x, z, s.K) && close(y, z, s.K)) {  // cannot decide: trust neither
        medkern_error = onednn_error = buf;
      }
      return;
    }
  }

  void setup_dnnl() {
    Dnnl& dn = Dnnl::get();
    if (!dn.error.empty()) {
      onednn_error = dn.error;
      return;
    }
    try {
      const dnnl::memory::desc a_md({s.M, s.K}, dnnl_type<TA>(), tag::ab);
      const dnnl::memory::desc b_md({s.K, s.N}, dnnl_type<TB>(), tag::ab);
      const dnnl::memory::desc b_any({s.K, s.N}, dnnl_type<TB>(), tag::any);
      const dnnl::memory::desc c_md({s.M, s.N}, dnnl_type<TC>(), tag::ab);
      const dnnl::matmul::primitive_desc pd_plain(dn.eng, a_md, b_md, c_md);
      const dnnl::matmul::primitive_desc pd_packed(dn.eng, a_md, b_any, c_md);
      impl_plain = pd_plain.impl_info_str();
      impl_prepacked = pd_packed.impl_info_str();
      plain = dnnl::matmul(pd_plain);
      prepacked = dnnl::matmul(pd_packed);
      a_mem = dnnl::memory(a_md, dn.eng);
      b_mem = dnnl::memory(b_md, dn.eng);
      c_mem = dnnl::memory(c_md, dn.eng);
      b_packed_mem = dnnl::memory(pd_packed.weights_desc(), dn.eng);
      b_reorder = dnnl::reorder(b_mem, b_packed_mem);
      copy_to(a_mem, a.data(), a.size());
      copy_to(b_mem, b.data(), b.size());
      b_reorder.execute(dn.s, b_mem, b_packed_mem);
      dn.s.wait();

      std::vector<TC> out(std::size_t(s.M * s.N));
      for (int variant = 0; variant < 2 && onednn_error.empty(); ++variant) {
        {  // poison oneDNN's C so a primitive that writes nothing cannot pass
          std::vector<TC> poison(out.size(), TC(77));
          copy_to(c_mem, poison.data(), c.size());
        }
        (variant == 0 ? plain : prepacked)
            .execute(dn.s, {{DNNL_ARG_SRC, a_mem},
                            {DNNL_ARG_WEIGHTS, variant == 0 ? b_mem : b_packed_mem},
                            {DNNL_ARG_DST, c_mem}});
        dn.s.wait();
        copy_from(c_mem, out.data(), c.size());
        compare(out, variant == 0 ? "oneDNN (plain B)" : "oneDNN (prepacked B)");
      }
    } catch (const std::exception& e) {
      onednn_error = std::string("oneDNN setup failed: ") + e.what();
    }
  }
#endif
};

/// Only the current case is kept: the benchmarks of one (dtype, shape) run one after another.
template <class T>
Case<T>& current_case(const Shape& s) {
  static std::shared_ptr<void> cur;
  static std::string key;
  const std::string k = std::string(kind_name<T>()) + "/" + s.name();
  if (!cur || key != k) {
    cur.reset();
    cur = std::make_shared<Case<T>>(s);
    key = k;
  }
  return *static_cast<Case<T>*>(cur.get());
}

template <class T>
const char* rate_name() {
  return std::is_same_v<T, U8S8> ? "GOP/s" : "GFLOP/s";
}

template <class T>
void set_gemm_counters(benchmark::State& st, const Shape& s) {
  const double ops = 2.0 * double(s.M) * double(s.N) * double(s.K);
  bench::set_rate_counters(st, rate_name<T>(), ops, peak_for<T>());
  st.counters["threads"] = num_threads();
}

template <class T>
void BM_medkern(benchmark::State& st, Shape s) {
  Case<T>& cs = current_case<T>(s);
  if (!cs.medkern_error.empty()) {
    st.SkipWithError(cs.medkern_error.c_str());
    return;
  }
  for (auto _ : st) {
    ops::gemm(s.M, cs.a.data(), s.K, cs.pb, cs.c.data(), s.N);
    benchmark::ClobberMemory();
  }
  set_gemm_counters<T>(st, s);
}

template <class T>
void BM_medkern_pack(benchmark::State& st, Shape s) {
  Case<T>& cs = current_case<T>(s);
  if (!cs.medkern_error.empty()) {
    st.SkipWithError(cs.medkern_error.c_str());
    return;
  }
  for (auto _ : st) {
    ops::PackedB<typename T::B> p(cs.b.data(), s.N, s.K, s.N);
    benchmark::DoNotOptimize(p.panel(0, 0));
  }
  st.counters["GB/s"] = bench::rate(double(s.K * s.N) * sizeof(typename T::B) * 1e-9);
  st.counters["threads"] = num_threads();
}

#ifdef MEDKERN_HAVE_DNNL
template <class T>
void BM_onednn(benchmark::State& st, Shape s, bool prepacked) {
  Case<T>& cs = current_case<T>(s);
  if (!cs.onednn_error.empty()) {
    st.SkipWithError(cs.onednn_error.c_str());
    return;
  }
  dnnl::stream& strm = Dnnl::get().s;
  dnnl::matmul& prim = prepacked ? cs.prepacked : cs.plain;
  const std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, cs.a_mem},
      {DNNL_ARG_WEIGHTS, prepacked ? cs.b_packed_mem : cs.b_mem},
      {DNNL_ARG_DST, cs.c_mem}};
  for (auto _ : st) {
    prim.execute(strm, args);
    strm.wait();
  }
  st.SetLabel(prepacked ? cs.impl_prepacked : cs.impl_plain);
  set_gemm_counters<T>(st, s);
}

template <class T>
void BM_onednn_pack(benchmark::State& st, Shape s) {
  Case<T>& cs = current_case<T>(s);
  if (!cs.onednn_error.empty()) {
    st.SkipWithError(cs.onednn_error.c_str());
    return;
  }
  dnnl::stream& strm = Dnnl::get().s;
  for (auto _ : st) {
    cs.b_reorder.execute(strm, cs.b_mem, cs.b_packed_mem);
    strm.wait();
  }
  st.counters["GB/s"] = bench::rate(double(s.K * s.N) * sizeof(typename T::B) * 1e-9);
}
#endif

template <class T>
void register_kind(const std::vector<Shape>& shapes) {
  const std::string k = kind_name<T>();
  for (const Shape& s : shapes) {
    const std::string tail = "/" + k + "/" + s.name();
    benchmark::RegisterBenchmark(("BM_gemm/medkern" + tail).c_str(), BM_medkern<T>, s)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_gemm/medkern_pack" + tail).c_str(), BM_medkern_pack<T>, s)
        ->UseRealTime();
#ifdef MEDKERN_HAVE_DNNL
    benchmark::RegisterBenchmark(("BM_gemm/onednn" + tail).c_str(), BM_onednn<T>, s, false)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_gemm/onednn_prepacked" + tail).c_str(), BM_onednn<T>, s,
                                 true)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_gemm/onednn_pack" + tail).c_str(), BM_onednn_pack<T>, s)
        ->UseRealTime();
#endif
  }
}

// ---- peak probes at medkern's thread count --------------------------------------------------

void BM_peak(benchmark::State& st, Isa need, double ops_per_iter, void (*probe)(i64)) {
  if (!cpu_info().supports(need)) {
    st.SkipWithError(("this CPU lacks ISA " + std::string(isa_name(need))).c_str());
    return;
  }
  constexpr i64 kIters = 1 << 14;
  const int t = num_threads();
  for (auto _ : st) ops::detail::run_on_threads(t, [&](int) { probe(kIters); });
  bench::set_rate_counters(st, "GFLOP/s", ops_per_iter * kIters * t, 0);
}

void register_peaks() {
  namespace pk = kernels::peak;
  const std::string t = "/threads:" + std::to_string(num_threads());
  benchmark::RegisterBenchmark(("BM_peak/f32_fma_avx512" + t).c_str(), BM_peak, Isa::avx512,
                               pk::kChains * 32.0, &pk::fma_f32_avx512)
      ->UseRealTime();
  benchmark::RegisterBenchmark(("BM_peak/bf16_dot_avx512" + t).c_str(), BM_peak,
                               Isa::avx512_bf16, pk::kChains * 64.0, &pk::dot_bf16_avx512)
      ->UseRealTime();
  benchmark::RegisterBenchmark(("BM_peak/s8_dot_vnni" + t).c_str(), BM_peak, Isa::avx512_vnni,
                               pk::kChains * 128.0, &pk::dot_s8_vnni)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  bench::ensure_dnnl_environment(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::vector<Shape> shapes;
  try {
    for (const auto& l : bench::read_shapes("MEDKERN_BENCH_GEMM_SHAPES", MEDKERN_BENCH_SHAPES_FILE, 3))
      shapes.push_back(Shape{l.v[0], l.v[1], l.v[2]});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medkern_bench_gemm: %s\n", e.what());
    return 1;
  }
  register_peaks();
  register_kind<F32>(shapes);
  register_kind<BF16>(shapes);
  register_kind<U8S8>(shapes);

  bench::add_machine_context({num_threads()});
  benchmark::AddCustomContext("timing", "real time; medkern at num_threads(), oneDNN at all cores");
#ifdef MEDKERN_HAVE_DNNL
  const dnnl_version_t* v = dnnl_version();
  benchmark::AddCustomContext(
      "onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                            std::to_string(v->patch) + " (" + v->hash + ")");
  benchmark::AddCustomContext("onednn_lib_dir", MEDKERN_DNNL_LIBDIR);
  benchmark::AddCustomContext(
      "onednn_threads",
      "all cores (" + std::to_string(cpu_info().logical_cpus) +
          "): the SYCL CPU runtime of this build takes no thread count; compare only at "
          "medkern_threads == all cores");
  if (!Dnnl::get().error.empty()) std::fprintf(stderr, "%s\n", Dnnl::get().error.c_str());
#else
  benchmark::AddCustomContext("onednn_version", "not built (MEDKERN_HAVE_DNNL off)");
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
