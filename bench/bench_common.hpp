// bench/bench_common.hpp — what both benchmark executables share: shape files, exact-valued
// test data, the machine context, and the oneDNN runtime environment.
//
// Shape files: one shape per line, whitespace-separated integers, `#` starts a comment (the
// comment of a shape line says where the shape comes from). The default path is compiled in
// (MEDKERN_BENCH_SHAPES_FILE); an environment variable overrides it (named by each executable).
//
// Test data holds small multiples of 1/8 (|x| <= 1/2): every product is a multiple of 1/64 and
// every sum of up to 2^16 products is exact in f32 (and in bf16 inputs), so two correct
// implementations agree bit for bit whatever their summation order, and a verification
// failure is a real bug, not rounding.
#pragma once

#include <benchmark/benchmark.h>
#include <tbb/version.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "medkern/core/config.hpp"
#include "medkern/core/cpu.hpp"
#include "medkern/core/dispatch.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/core/threading.hpp"
#include "medkern/ops/peak.hpp"

namespace medkern::bench {

#ifndef MEDKERN_BENCH_COMPILER
#define MEDKERN_BENCH_COMPILER "unknown"
#endif
#ifndef MEDKERN_BENCH_BENCHMARK_VERSION
#define MEDKERN_BENCH_BENCHMARK_VERSION "unknown"
#endif

struct ShapeLine {
  std::vector<std::int64_t> v;  ///< the integers of the line
  std::string where;            ///< the line's comment
};

/// Reads the shape file named by env `env_var`, else `default_path`; every line must have
/// exactly `fields` positive integers. Throws std::runtime_error naming the file and line.
inline std::vector<ShapeLine> read_shapes(const char* env_var, const char* default_path,
                                          std::size_t fields) {
  const char* env = std::getenv(env_var);
  const std::string path = env != nullptr && *env != '\0' ? env : default_path;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open shape file " + path + " (set " + env_var + ")");
  std::vector<ShapeLine> out;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    ShapeLine s;
    if (const auto hash = line.find('#'); hash != std::string::npos) {
      s.where = line.substr(hash + 1);
      line.resize(hash);
      const auto b = s.where.find_first_not_of(' ');
      s.where = b == std::string::npos ? std::string() : s.where.substr(b);
    }
    std::istringstream is(line);
    std::int64_t x = 0;
    while (is >> x) s.v.push_back(x);
    if (!is.eof())
      throw std::runtime_error(path + ":" + std::to_string(no) + ": not an integer list");
    if (s.v.empty()) continue;
    if (s.v.size() != fields)
      throw std::runtime_error(path + ":" + std::to_string(no) + ": expected " +
                               std::to_string(fields) + " integers, got " +
                               std::to_string(s.v.size()));
    for (std::int64_t d : s.v)
      if (d <= 0 || d > (std::int64_t(1) << 20))
        throw std::runtime_error(path + ":" + std::to_string(no) + ": sizes must be in [1, 2^20]");
    out.push_back(std::move(s));
  }
  if (out.empty()) throw std::runtime_error("no shapes in " + path);
  return out;
}

/// Deterministic generator (splitmix64) for the test data.
struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Integer in [lo, hi].
  int uniform(int lo, int hi) noexcept { return lo + int(next() % std::uint64_t(hi - lo + 1)); }
};

/// A multiple of 1/8 in [-1/2, 1/2] (exact in f32 and bf16).
inline float small_value(Rng& r) { return float(r.uniform(-4, 4)) / 8.0f; }

template <class T>
void fill(T* p, std::int64_t n, std::uint64_t seed) {
  Rng r(seed);
  for (std::int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, float>)
      p[i] = small_value(r);
    else if constexpr (std::is_same_v<T, bf16>)
      p[i] = bf16(small_value(r));
    else if constexpr (std::is_same_v<T, std::uint8_t>)
      p[i] = std::uint8_t(r.uniform(0, 255));
    else if constexpr (std::is_same_v<T, std::int8_t>)
      p[i] = std::int8_t(r.uniform(-128, 127));
    else
      static_assert(sizeof(T) == 0, "fill: unsupported type");
  }
}

inline std::string fmt(double x, int prec = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, x);
  return buf;
}

/// Machine, library and compiler description, plus the measured peaks at `peak_threads`
/// threads (1 for single-threaded kernels, num_threads() for ops).
inline void add_machine_context(const std::vector<int>& peak_threads) {
  const CpuInfo& cpu = cpu_info();
  benchmark::AddCustomContext("cpu_model", cpu.model);
  benchmark::AddCustomContext("cpu_logical", std::to_string(cpu.logical_cpus));
  std::string flags;
  for (const std::string& f : cpu.flags()) flags += (flags.empty() ? "" : " ") + f;
  benchmark::AddCustomContext("cpu_flags", flags);
  benchmark::AddCustomContext("cpu_amx_usable", cpu.supports(Isa::amx) ? "yes" : "no");
  benchmark::AddCustomContext("medkern_active_isa", std::string(isa_name(effective_isa())));
  benchmark::AddCustomContext("medkern_version", MEDKERN_VERSION_STRING);
  benchmark::AddCustomContext("medkern_threads", std::to_string(num_threads()));
  benchmark::AddCustomContext("compiler", MEDKERN_BENCH_COMPILER);
  benchmark::AddCustomContext("google_benchmark", MEDKERN_BENCH_BENCHMARK_VERSION);
  benchmark::AddCustomContext("tbb_headers", tbb_version_string());
  benchmark::AddCustomContext("tbb_runtime", TBB_runtime_version());
  for (int t : peak_threads) {
    const ops::PeakNumbers p = ops::measure_peak(t);
    const std::string k = "peak_t" + std::to_string(p.threads) + "_";
    benchmark::AddCustomContext(k + "f32_gflops", fmt(p.f32_gflops));
    benchmark::AddCustomContext(k + "bf16_gflops", fmt(p.bf16_gflops));
    benchmark::AddCustomContext(k + "s8_gops", fmt(p.s8_gops));
    benchmark::AddCustomContext(k + "amx_bf16_gflops", fmt(p.amx_bf16_gflops));
    benchmark::AddCustomContext(k + "amx_s8_gops", fmt(p.amx_s8_gops));
    benchmark::AddCustomContext(k + "copy_gbs", fmt(p.copy_gbs));
  }
}

/// Rate counter: `per_iter` units per iteration, reported per second.
inline benchmark::Counter rate(double per_iter) {
  return benchmark::Counter(per_iter, benchmark::Counter::kIsIterationInvariantRate);
}

/// Percent of `peak_g` (giga-ops per second) reached when doing `ops_per_iter` per iteration.
inline void set_rate_counters(benchmark::State& st, const char* name, double ops_per_iter,
                              double peak_g) {
  st.counters[name] = rate(ops_per_iter * 1e-9);
  if (peak_g > 0) st.counters["pct_peak"] = rate(100.0 * ops_per_iter * 1e-9 / peak_g);
}

/// The SYCL build of oneDNN works only when its library directory is on LD_LIBRARY_PATH at
/// process start (its runtime dlopens plug-ins by name) and the OpenCL ICD loader is pointed at
/// the shipped CPU runtime. When the directory is missing, set both and re-execute this
/// program (once; MEDKERN_BENCH_REEXEC guards against a loop).
inline void ensure_dnnl_environment([[maybe_unused]] char** argv) {
#ifdef MEDKERN_DNNL_LIBDIR
  const std::string dir = MEDKERN_DNNL_LIBDIR;
  const char* ld = std::getenv("LD_LIBRARY_PATH");
  bool present = false;
  if (ld != nullptr) {
    std::istringstream is(ld);
    for (std::string part; std::getline(is, part, ':');)
      if (part == dir || part == dir + "/") present = true;
  }
  const char* icd = std::getenv("OCL_ICD_FILENAMES");
  if (icd == nullptr || *icd == '\0')
    setenv("OCL_ICD_FILENAMES", (dir + "/libintelocl.so").c_str(), 1);
  if (present || std::getenv("MEDKERN_BENCH_REEXEC") != nullptr) return;
  const std::string new_ld = ld != nullptr && *ld != '\0' ? dir + ":" + ld : dir;
  setenv("LD_LIBRARY_PATH", new_ld.c_str(), 1);
  setenv("MEDKERN_BENCH_REEXEC", "1", 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "medkern bench: re-exec with LD_LIBRARY_PATH=%s failed: %s\n",
               new_ld.c_str(), std::strerror(errno));
#endif
}

}  // namespace medkern::bench
