// bench/brgemm_bench.cpp — every BRGEMM registry row on the shapes of bench/shapes/brgemm.txt.
//
//   BM_brgemm/<row name>/<dtype>/M<M>_N<N>_K<K>_B<batch>
//   BM_peak/<probe>                        the peak probes, timed here so the JSON holds them
//
// One thread (the kernels are single-threaded), CPU time. Data hot in cache: allocated,
// filled and packed once per (dtype, shape), outside the timed loop, and shared by every row
// of that dtype; every row is checked once against the reference row before it is timed (a
// mismatch is a SkipWithError, never a number). Rows run with the dtype(s) their supports()
// accepts: f32 (f32 A/B/C), bf16 (bf16 A, pair-packed bf16 B, f32 C), u8s8s32 (u8 A,
// quad-packed s8 B, s32 C). A row whose ISA this CPU (or MEDKERN_MAX_ISA) lacks reports
// SkipWithError; emulated AMX rows are not benchmarked.
// Counters: GFLOP/s (GOP/s for u8s8s32) and pct_peak against ops::measure_peak(1) of the
// matching family (f32 FMA, bf16 dot, s8 dot).
// Shapes: "M N K batch" per line; env MEDKERN_BENCH_SHAPES overrides the compiled-in file.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "medkern/core/buffer.hpp"
#include "medkern/kernels/brgemm/pack.hpp"
#include "medkern/kernels/brgemm/registry.hpp"
#include "medkern/kernels/peak/probe.hpp"
#include "medkern/ops/peak.hpp"

namespace {

using namespace medkern;
namespace kb = medkern::kernels::brgemm;
using i64 = std::int64_t;

enum class Kind { f32, bf16, u8s8s32 };
constexpr Kind kKinds[] = {Kind::f32, Kind::bf16, Kind::u8s8s32};

const char* kind_name(Kind k) {
  return k == Kind::f32 ? "f32" : k == Kind::bf16 ? "bf16" : "u8s8s32";
}

struct Shape {
  i64 M, N, K, batch;
  std::string where;
  std::string name() const {
    return "M" + std::to_string(M) + "_N" + std::to_string(N) + "_K" + std::to_string(K) + "_B" +
           std::to_string(batch);
  }
};

kb::BrgemmDesc make_desc(Kind k, const Shape& s) {
  kb::BrgemmDesc d;
  switch (k) {
    case Kind::f32: d.a_type = d.b_type = d.c_type = DType::f32; break;
    case Kind::bf16: d.a_type = d.b_type = DType::bf16, d.c_type = DType::f32; break;
    case Kind::u8s8s32: d.a_type = DType::u8, d.b_type = DType::s8, d.c_type = DType::s32; break;
  }
  d.M = s.M, d.N = s.N, d.K = s.K;
  d.lda = s.K, d.ldb = s.N, d.ldc = s.N;
  return d;
}

const kb::BrgemmRow* ref_row() {
  for (const kb::BrgemmRow& r : kb::kRegistry)
    if (r.isa == Isa::ref) return &r;
  return nullptr;
}

/// The data of one (dtype, shape): batch A and packed B matrices, C, and the reference C.
struct Case {
  Kind kind;
  Shape s;
  kb::BrgemmDesc d;
  AlignedBuffer<char> a, b, c, c_ref;
  std::vector<const void*> pa, pb;
  std::map<std::string, std::string> checked;  ///< row name -> "" (ok) or the mismatch

  Case(Kind k, const Shape& sh) : kind(k), s(sh), d(make_desc(k, sh)) {
    const i64 esa = i64(dtype_size(d.a_type)), esb = i64(dtype_size(d.b_type));
    const i64 a_elems = s.M * s.K, b_elems = kb::packed_b_elems(d.b_type, s.K, s.N);
    // Per-matrix sizes rounded to 64 bytes so every A_b / B_b starts on a cache line.
    const i64 a_bytes = (a_elems * esa + 63) / 64 * 64, b_bytes = (b_elems * esb + 63) / 64 * 64;
    a.allocate(a_bytes * s.batch);
    b.allocate(b_bytes * s.batch);
    c.allocate(s.M * s.N * 4);
    c_ref.allocate(s.M * s.N * 4);
    std::vector<char> src(std::size_t(s.K * s.N * esb));
    for (i64 i = 0; i < s.batch; ++i) {
      char* ai = a.data() + i * a_bytes;
      char* bi = b.data() + i * b_bytes;
      const std::uint64_t seed = std::uint64_t(1000 + 2 * i);
      switch (k) {
        case Kind::f32:
          bench::fill(reinterpret_cast<float*>(ai), a_elems, seed);
          bench::fill(reinterpret_cast<float*>(bi), s.K * s.N, seed + 1);  // f32 B is row-major
          break;
        case Kind::bf16:
          bench::fill(reinterpret_cast<bf16*>(ai), a_elems, seed);
          bench::fill(reinterpret_cast<bf16*>(src.data()), s.K * s.N, seed + 1);
          kb::pack_b(reinterpret_cast<const bf16*>(src.data()), s.N, s.K, s.N, s.N,
                     reinterpret_cast<bf16*>(bi));
          break;
        case Kind::u8s8s32:
          bench::fill(reinterpret_cast<std::uint8_t*>(ai), a_elems, seed);
          bench::fill(reinterpret_cast<std::int8_t*>(src.data()), s.K * s.N, seed + 1);
          kb::pack_b(reinterpret_cast<const std::int8_t*>(src.data()), s.N, s.K, s.N, s.N,
                     reinterpret_cast<std::int8_t*>(bi));
          break;
      }
      pa.push_back(ai);
      pb.push_back(bi);
    }
    ref_row()->run(d, s.batch, pa.data(), pb.data(), c_ref.data());
  }

  /// Runs `row` once into a poisoned C and compares with the reference: "" or the mismatch.
  std::string check(const kb::BrgemmRow& row) {
    std::memset(c.data(), 0x7f, std::size_t(c.size()));
    row.run(d, s.batch, pa.data(), pb.data(), c.data());
    for (i64 m = 0; m < s.M; ++m)
      for (i64 n = 0; n < s.N; ++n) {
        const i64 i = m * s.N + n;
        bool ok;
        double x, y;
        if (kind == Kind::u8s8s32) {
          x = reinterpret_cast<const std::int32_t*>(c.data())[i];
          y = reinterpret_cast<const std::int32_t*>(c_ref.data())[i];
          ok = x == y;
        } else {
          x = reinterpret_cast<const float*>(c.data())[i];
          y = reinterpret_cast<const float*>(c_ref.data())[i];
          // Exact-valued data (bench_common.hpp): equal unless K*batch is huge.
          ok = std::fabs(x - y) <= 1e-6 * double(s.K * s.batch) + 1e-6 * std::fabs(y);
        }
        if (!ok) {
          char buf[200];
          std::snprintf(buf, sizeof buf, "wrong result vs %s at (m=%lld, n=%lld): %.9g vs %.9g",
                        ref_row()->name, (long long)m, (long long)n, x, y);
          return buf;
        }
      }
    return {};
  }
};

/// Only the current case is kept: benchmarks of one (dtype, shape) are registered together.
Case& current_case(Kind k, const Shape& s) {
  static std::unique_ptr<Case> cur;
  if (!cur || cur->kind != k || cur->s.name() != s.name()) {
    cur.reset();
    cur = std::make_unique<Case>(k, s);
  }
  return *cur;
}

double peak_for(Kind k) {
  const ops::PeakNumbers p = ops::measure_peak(1);
  return k == Kind::f32 ? p.f32_gflops : k == Kind::bf16 ? p.bf16_gflops : p.s8_gops;
}

void BM_brgemm(benchmark::State& st, const kb::BrgemmRow* row, Kind kind, Shape s) {
  if (!cpu_info().supports(row->isa)) {
    st.SkipWithError(("this CPU lacks ISA " + std::string(isa_name(row->isa))).c_str());
    return;
  }
  if (static_cast<int>(row->isa) > static_cast<int>(effective_isa())) {
    st.SkipWithError(("ISA " + std::string(isa_name(row->isa)) + " is above MEDKERN_MAX_ISA").c_str());
    return;
  }
  Case& cs = current_case(kind, s);
  auto it = cs.checked.find(row->name);
  if (it == cs.checked.end()) it = cs.checked.emplace(row->name, cs.check(*row)).first;
  if (!it->second.empty()) {
    st.SkipWithError(it->second.c_str());
    return;
  }
  const void* const* pa = cs.pa.data();
  const void* const* pb = cs.pb.data();
  void* c = cs.c.data();
  for (auto _ : st) {
    row->run(cs.d, s.batch, pa, pb, c);
    benchmark::ClobberMemory();
  }
  const double ops = 2.0 * double(s.M) * double(s.N) * double(s.K) * double(s.batch);
  bench::set_rate_counters(st, kind == Kind::u8s8s32 ? "GOP/s" : "GFLOP/s", ops, peak_for(kind));
}

// ---- peak probes --------------------------------------------------------------------------

void BM_peak(benchmark::State& st, Isa need, double ops_per_iter, void (*probe)(i64),
             double (*cached)(const ops::PeakNumbers&)) {
  if (!cpu_info().supports(need)) {
    st.SkipWithError(("this CPU lacks ISA " + std::string(isa_name(need))).c_str());
    return;
  }
  constexpr i64 kIters = 1 << 14;
  for (auto _ : st) probe(kIters);
  bench::set_rate_counters(st, "GFLOP/s", ops_per_iter * kIters, 0);
  if (cached != nullptr) st.counters["measure_peak_1t"] = cached(ops::measure_peak(1));
}

void register_peaks() {
  namespace pk = kernels::peak;
  benchmark::RegisterBenchmark("BM_peak/f32_fma_avx512", BM_peak, Isa::avx512, pk::kChains * 32.0,
                               &pk::fma_f32_avx512,
                               [](const ops::PeakNumbers& p) { return p.f32_gflops; });
  benchmark::RegisterBenchmark("BM_peak/f32_fma_avx2", BM_peak, Isa::avx2, 12 * 16.0,
                               &pk::fma_f32_avx2, nullptr);
  benchmark::RegisterBenchmark("BM_peak/bf16_dot_avx512", BM_peak, Isa::avx512_bf16,
                               pk::kChains * 64.0, &pk::dot_bf16_avx512,
                               [](const ops::PeakNumbers& p) { return p.bf16_gflops; });
  benchmark::RegisterBenchmark("BM_peak/s8_dot_vnni", BM_peak, Isa::avx512_vnni,
                               pk::kChains * 128.0, &pk::dot_s8_vnni,
                               [](const ops::PeakNumbers& p) { return p.s8_gops; });
  benchmark::RegisterBenchmark("BM_peak/amx_bf16", BM_peak, Isa::amx, 4 * 16384.0,
                               +[](i64 it) { pk::dot_amx(it, true); },
                               [](const ops::PeakNumbers& p) { return p.amx_bf16_gflops; });
  benchmark::RegisterBenchmark("BM_peak/amx_s8", BM_peak, Isa::amx, 4 * 32768.0,
                               +[](i64 it) { pk::dot_amx(it, false); },
                               [](const ops::PeakNumbers& p) { return p.amx_s8_gops; });
}

void register_brgemm() {
  const auto lines = bench::read_shapes("MEDKERN_BENCH_SHAPES", MEDKERN_BENCH_SHAPES_FILE, 4);
  // Shape-major, then dtype, then row: each (dtype, shape) is built and verified once.
  for (const bench::ShapeLine& l : lines) {
    const Shape s{l.v[0], l.v[1], l.v[2], l.v[3], l.where};
    for (Kind k : kKinds) {
      const kb::BrgemmDesc d = make_desc(k, s);
      for (const kb::BrgemmRow& row : kb::kRegistry) {
        if (std::string(row.name).find("emulated") != std::string::npos) continue;
        if (!row.supports(d)) continue;
        // The AMX row carries the bf16 name; its int8 path has a name of its own.
        const char* row_name =
            row.isa == Isa::amx && k == Kind::u8s8s32 ? kb::impl<isa::amx_t>::name_int8 : row.name;
        const std::string name =
            std::string("BM_brgemm/") + row_name + "/" + kind_name(k) + "/" + s.name();
        benchmark::RegisterBenchmark(name.c_str(), BM_brgemm, &row, k, s);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    register_peaks();
    register_brgemm();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "medkern_bench_brgemm: %s\n", e.what());
    return 1;
  }
  bench::add_machine_context({1});
  benchmark::AddCustomContext("timing", "single thread, CPU time, data hot in L1/L2");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
