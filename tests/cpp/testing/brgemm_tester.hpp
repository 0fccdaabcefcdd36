// tests/cpp/testing/brgemm_tester.hpp — a fluent tester for every BRGEMM variant (any dtype).
//
//   BrgemmTester().types(DType::bf16, DType::bf16, DType::f32).m(17).n(33).k(100).batch(3)
//       .lda(120).ldc(40).accumulate(true).bias().eltwise(Eltwise::relu)
//       .test(&impl<isa::avx512_bf16_t>::run, "avx512_bf16");
//
// test() builds random inputs from the seed (A per batch element in its own exactly-sized
// allocation, B packed with pack_b, C pre-filled for accumulate), runs impl<isa::ref_t> as the
// oracle and the kernel under test, and checks:
//   - integer C (s32): exact equality;
//   - f32 C: |got - ref| <= rtol * max(max|ref|, 1), rtol defaulted per dtype (below);
//   - guards: every C element outside [0,M) x [0,N) (the ldc gap and a tail past the end of
//     the buffer) keeps its sentinel bits.
// On failure it prints the seed, the problem (describe()), max abs/rel error and the first bad
// index, so a failing case can be replayed with .seed(s).
// Base pointers of A, B and C are offset by `misalign` elements (default 1) from the
// allocation, so kernels cannot rely on alignment.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "medkern/core/tensor.hpp"
#include "medkern/kernels/brgemm/desc.hpp"
#include "medkern/kernels/brgemm/pack.hpp"
#include "medkern/kernels/brgemm/ref.hpp"
#include "medkern/kernels/post_ops.hpp"

namespace medkern::testing {

using kernels::Eltwise;
using kernels::PostOpKind;
using kernels::PostOps;
using kernels::brgemm::BrgemmDesc;

class BrgemmTester {
 public:
  static constexpr std::int64_t kGuard = 37;  ///< sentinel elements past the end of C

  BrgemmTester& types(DType a, DType b, DType c) { a_ = a; b_ = b; c_ = c; return *this; }
  BrgemmTester& m(std::int64_t v) { m_ = v; return *this; }
  BrgemmTester& n(std::int64_t v) { n_ = v; return *this; }
  BrgemmTester& k(std::int64_t v) { k_ = v; return *this; }
  BrgemmTester& batch(std::int64_t v) { batch_ = v; return *this; }
  /// Strides; 0 (default) means the tight value (K, N, N). Values below it are raised to it.
  BrgemmTester& lda(std::int64_t v) { lda_ = v; return *this; }
  BrgemmTester& ldb(std::int64_t v) { ldb_ = v; return *this; }
  BrgemmTester& ldc(std::int64_t v) { ldc_ = v; return *this; }
  BrgemmTester& accumulate(bool v) { acc_ = v; return *this; }
  BrgemmTester& misalign(std::int64_t elems) { misalign_ = elems; return *this; }
  BrgemmTester& seed(std::uint64_t s) { seed_ = s; return *this; }
  /// Overrides the default f32 tolerance (relative to max(max|ref|, 1)).
  BrgemmTester& rtol(double r) { rtol_ = r; return *this; }

  // Post-ops, appended in call order; the tester owns their random per-column data.
  BrgemmTester& bias() { return post({PostOpKind::bias, Eltwise::relu, true, 0.f, 0.f}); }
  BrgemmTester& scale_per_column() {
    return post({PostOpKind::scale, Eltwise::relu, true, 0.f, 0.f});
  }
  BrgemmTester& scale(float s) { return post({PostOpKind::scale, Eltwise::relu, false, s, 0.f}); }
  BrgemmTester& eltwise(Eltwise alg, float alpha = 0.f, float beta = 0.f) {
    return post({PostOpKind::eltwise, alg, false, alpha, beta});
  }
  BrgemmTester& prelu(bool per_column, float slope = 0.f) {
    return post({PostOpKind::prelu, Eltwise::relu, per_column, slope, 0.f});
  }

  std::int64_t get_m() const { return m_; }
  std::int64_t get_n() const { return n_; }
  std::int64_t get_k() const { return k_; }
  std::int64_t get_batch() const { return batch_; }

  /// The descriptor test() will pass (post-op data pointers are bound inside test()).
  BrgemmDesc desc() const {
    BrgemmDesc d;
    d.a_type = a_;
    d.b_type = b_;
    d.c_type = c_;
    d.M = m_;
    d.N = n_;
    d.K = k_;
    d.lda = std::max(lda_, k_);
    d.ldb = std::max(ldb_, n_);
    d.ldc = std::max(ldc_, n_);
    d.accumulate = acc_;
    return d;
  }

  /// Default f32 tolerance: bf16 inputs are exact, only the f32 summation order differs
  /// (~1e-5 * sqrt(terms)); f32 inputs 8*eps*sqrt(K*batch); integer inputs with an f32 C are
  /// exact up to the conversion and post-op rounding.
  double default_rtol() const {
    const double terms = double(std::max<std::int64_t>(1, k_ * batch_));
    if (a_ == DType::bf16) return 1e-5 * std::sqrt(terms);
    if (a_ == DType::f32) return 8 * 1.1920929e-7 * std::sqrt(terms);
    return 1e-6;
  }

  /// Runs `fn` (a BrgemmFn-like callable) against the ref; on a mismatch reports it with
  /// FAIL_CHECK (the test goes on) and returns false.
  template <class Fn>
  bool test(Fn&& fn, const std::string& label = "") const {
    const std::string report = check(std::forward<Fn>(fn), label);
    if (report.empty()) return true;
    FAIL_CHECK(report);
    return false;
  }

  /// Same as test() without reporting: "" when `fn` passes, else the failure report.
  template <class Fn>
  std::string check(Fn&& fn, const std::string& label = "") const {
    BrgemmDesc d = desc();
    std::mt19937_64 rng(seed_);

    // Post-op data, exactly N floats each (an over-read lands outside the allocation).
    std::vector<std::vector<float>> post_data;
    post_data.reserve(posts_.size());
    for (const PostSpec& p : posts_) {
      kernels::PostOp op{p.kind, p.alg, nullptr, p.alpha, p.beta};
      if (p.per_column) {
        post_data.emplace_back(std::size_t(std::max<std::int64_t>(n_, 1)));
        std::uniform_real_distribution<float> u(p.kind == PostOpKind::scale ? 0.25f : -1.f, 1.f);
        for (float& x : post_data.back()) x = u(rng);
        op.data = post_data.back().data();
      }
      d.post.push(op);
    }

    const std::size_t as = dtype_size(a_), bs = dtype_size(b_), cs = dtype_size(c_);
    // A: one allocation per batch element, exactly (M-1)*lda + K elements past the offset.
    const std::int64_t a_elems = m_ > 0 ? (m_ - 1) * d.lda + k_ : 0;
    std::vector<std::vector<unsigned char>> a_store(static_cast<std::size_t>(batch_));
    std::vector<const void*> a_ptrs(static_cast<std::size_t>(batch_));
    for (std::int64_t i = 0; i < batch_; ++i) {
      auto& s = a_store[std::size_t(i)];
      s.assign(std::size_t(misalign_ + a_elems) * as + 1, 0);
      unsigned char* base = s.data() + misalign_ * as;
      fill_random(a_, base, a_elems, rng);
      a_ptrs[std::size_t(i)] = base;
    }
    // B: random K x N source packed into the dtype's layout with ldb columns.
    const std::int64_t b_elems = kernels::brgemm::packed_b_elems(b_, k_, d.ldb);
    std::vector<std::vector<unsigned char>> b_store(static_cast<std::size_t>(batch_));
    std::vector<const void*> b_ptrs(static_cast<std::size_t>(batch_));
    for (std::int64_t i = 0; i < batch_; ++i) {
      std::vector<unsigned char> src(std::size_t(k_ * n_) * bs + 1);
      fill_random(b_, src.data(), k_ * n_, rng);
      auto& s = b_store[std::size_t(i)];
      s.assign(std::size_t(misalign_ + b_elems) * bs + 1, 0);
      unsigned char* base = s.data() + misalign_ * bs;
      pack(b_, src.data(), base);
      b_ptrs[std::size_t(i)] = base;
    }
    std::vector<std::int32_t> comp(std::size_t(std::max<std::int64_t>(n_, 1)));
    if (a_ == DType::s8 && b_ == DType::s8) {
      std::vector<const std::int8_t*> bp(static_cast<std::size_t>(batch_));
      for (std::int64_t i = 0; i < batch_; ++i)
        bp[std::size_t(i)] = static_cast<const std::int8_t*>(b_ptrs[std::size_t(i)]);
      kernels::brgemm::compensation_s8(batch_, bp.data(), k_, n_, d.ldb, comp.data());
      d.b_compensation = comp.data();
    }

    // C: M rows of ldc, then kGuard sentinels; [0,N) of each row random, the rest sentinels.
    const std::int64_t c_elems = m_ * d.ldc + kGuard;
    std::vector<unsigned char> c_init(std::size_t(misalign_ + c_elems) * cs);
    unsigned char* ci = c_init.data() + misalign_ * cs;
    for (std::int64_t e = 0; e < c_elems; ++e) set_sentinel(ci + e * cs);
    for (std::int64_t r = 0; r < m_; ++r) fill_random_c(ci + r * d.ldc * cs, n_, rng);
    std::vector<unsigned char> c_ref = c_init, c_got = c_init;
    void* cr = c_ref.data() + misalign_ * cs;
    void* cg = c_got.data() + misalign_ * cs;

    const void* const* ap = a_ptrs.empty() ? nullptr : a_ptrs.data();
    const void* const* bp = b_ptrs.empty() ? nullptr : b_ptrs.data();
    kernels::brgemm::impl<isa::ref_t>::run(d, batch_, ap, bp, cr);
    fn(d, batch_, ap, bp, cg);

    return compare(d, label, static_cast<const unsigned char*>(cr),
                   static_cast<const unsigned char*>(cg));
  }

 private:
  struct PostSpec {
    PostOpKind kind;
    Eltwise alg;
    bool per_column;
    float alpha, beta;
  };
  BrgemmTester& post(const PostSpec& p) {
    posts_.push_back(p);
    return *this;
  }

  static void fill_random(DType t, void* p, std::int64_t n, std::mt19937_64& rng) {
    switch (t) {
      case DType::f32: {
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        for (std::int64_t i = 0; i < n; ++i) static_cast<float*>(p)[i] = u(rng);
        break;
      }
      case DType::bf16: {
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        for (std::int64_t i = 0; i < n; ++i) static_cast<bf16*>(p)[i] = bf16(u(rng));
        break;
      }
      case DType::u8: {
        std::uniform_int_distribution<int> u(0, 255);
        for (std::int64_t i = 0; i < n; ++i) static_cast<std::uint8_t*>(p)[i] = std::uint8_t(u(rng));
        break;
      }
      case DType::s8: {
        std::uniform_int_distribution<int> u(-128, 127);
        for (std::int64_t i = 0; i < n; ++i) static_cast<std::int8_t*>(p)[i] = std::int8_t(u(rng));
        break;
      }
      case DType::s32: {
        std::uniform_int_distribution<std::int32_t> u(-100000, 100000);
        for (std::int64_t i = 0; i < n; ++i) static_cast<std::int32_t*>(p)[i] = u(rng);
        break;
      }
    }
  }

  void fill_random_c(void* row, std::int64_t n, std::mt19937_64& rng) const {
    if (c_ == DType::s32) {
      fill_random(DType::s32, row, n, rng);
    } else {
      // Integer products are large; scale the prior C so accumulate is not lost in rounding.
      const float amp = a_ == DType::u8 || a_ == DType::s8 ? 1000.f : 1.f;
      std::uniform_real_distribution<float> u(-amp, amp);
      for (std::int64_t i = 0; i < n; ++i) static_cast<float*>(row)[i] = u(rng);
    }
  }

  void pack(DType t, const void* src, void* dst) const {
    const std::int64_t ldb = std::max(ldb_, n_);
    switch (t) {
      case DType::f32:
        kernels::brgemm::pack_b(static_cast<const float*>(src), n_, k_, n_, ldb,
                                static_cast<float*>(dst));
        break;
      case DType::bf16:
        kernels::brgemm::pack_b(static_cast<const bf16*>(src), n_, k_, n_, ldb,
                                static_cast<bf16*>(dst));
        break;
      case DType::s8:
        kernels::brgemm::pack_b(static_cast<const std::int8_t*>(src), n_, k_, n_, ldb,
                                static_cast<std::int8_t*>(dst));
        break;
      default: FAIL("BrgemmTester: B dtype ", dtype_name(t), " has no packing");
    }
  }

  static constexpr std::uint32_t kSentinel = 0x7fc0dead;  // a quiet NaN as f32

  void set_sentinel(unsigned char* p) const { std::memcpy(p, &kSentinel, 4); }
  static bool is_sentinel(const unsigned char* p) { return std::memcmp(p, &kSentinel, 4) == 0; }

  std::string compare(const BrgemmDesc& d, const std::string& label, const unsigned char* ref,
                      const unsigned char* got) const {
    const std::size_t cs = dtype_size(c_);
    const bool exact = c_ == DType::s32;
    const double rtol = rtol_ > 0 ? rtol_ : default_rtol();
    double max_ref = 0, max_abs = 0, max_rel = 0;
    auto val = [&](const unsigned char* base, std::int64_t e) -> double {
      if (exact) {
        std::int32_t v;
        std::memcpy(&v, base + e * cs, 4);
        return v;
      }
      float v;
      std::memcpy(&v, base + e * cs, 4);
      return v;
    };
    for (std::int64_t r = 0; r < m_; ++r)
      for (std::int64_t c = 0; c < n_; ++c) {
        const double x = std::fabs(val(ref, r * d.ldc + c));
        if (std::isfinite(x)) max_ref = std::max(max_ref, x);
      }
    const double tol = exact ? 0.0 : rtol * std::max(max_ref, 1.0);
    std::int64_t bad = 0, first_r = -1, first_c = -1;
    double first_ref = 0, first_got = 0;
    for (std::int64_t r = 0; r < m_; ++r)
      for (std::int64_t c = 0; c < n_; ++c) {
        const double x = val(ref, r * d.ldc + c), y = val(got, r * d.ldc + c);
        const double e = std::fabs(x - y);
        bool ok = std::isnan(x) ? std::isnan(y) : !std::isnan(y) && e <= tol;
        if (!std::isnan(e)) {
          max_abs = std::max(max_abs, e);
          max_rel = std::max(max_rel, e / std::max(max_ref, 1.0));
        }
        if (!ok && bad++ == 0) {
          first_r = r;
          first_c = c;
          first_ref = x;
          first_got = y;
        }
      }
    // Guards: the ldc gap of every row and kGuard elements past the end.
    std::int64_t guard_bad = 0, guard_first = -1;
    const std::int64_t total = m_ * d.ldc + kGuard;
    for (std::int64_t e = 0; e < total; ++e) {
      const bool inside = e < m_ * d.ldc && (e % d.ldc) < n_;
      if (!inside && !is_sentinel(got + e * cs) && guard_bad++ == 0) guard_first = e;
    }
    if (bad == 0 && guard_bad == 0) return std::string();
    std::ostringstream os;
    os << "BRGEMM mismatch [" << label << "] seed=" << seed_ << " "
       << kernels::brgemm::describe(d, batch_) << " misalign=" << misalign_
       << ": bad=" << bad << " max_abs=" << max_abs << " max_rel=" << max_rel
       << " tol=" << tol << " (max|ref|=" << max_ref << ")";
    if (bad)
      os << " first bad (m=" << first_r << ", n=" << first_c << "): ref=" << first_ref
         << " got=" << first_got;
    if (guard_bad)
      os << " guard overwritten: " << guard_bad << " elements, first at offset " << guard_first
         << " (row " << guard_first / d.ldc << ", col " << guard_first % d.ldc << ")";
    return os.str();
  }

  DType a_ = DType::f32, b_ = DType::f32, c_ = DType::f32;
  std::int64_t m_ = 1, n_ = 1, k_ = 1, batch_ = 1;
  std::int64_t lda_ = 0, ldb_ = 0, ldc_ = 0;
  bool acc_ = false;
  std::int64_t misalign_ = 1;
  std::uint64_t seed_ = 12345;
  double rtol_ = 0;
  std::vector<PostSpec> posts_;
};

}  // namespace medkern::testing
