// medkern/kernels/post_ops.hpp — the post-op chain applied to an output tile while it is still
// in registers or in L1: a small value type shared by BRGEMM, GEMM and the convolutions.
//
// Ops apply in order to the f32 value of element (m, n) of C after the full reduction, n being
// the output channel (the column of a GEMM):
//   bias:    c += data[n]                      (folded batch-norm shift, per-channel add)
//   scale:   c *= (data ? data[n] : alpha)     (folded batch-norm scale, per-channel mul)
//   prelu:   c = c >= 0 ? c : (data ? data[n] : alpha) * c
//   eltwise: c = f(c) with f from Eltwise and its alpha/beta
//   sum:     c += alpha * data[e]              (residual; e = the element's offset in the
//                                               residual, supplied by whoever applies it)
// A sum needs per-element addressing, so register-tile kernels (BRGEMM, the direct conv
// kernel) run only the head of a chain (head(): the ops before the first sum) and the op
// layer applies the tail (tail()) on each output row right after it is stored, while the row
// is in L1 (kernels/post_ops_row.hpp). A requantization (f32 -> s8/u8 with a scale and zero
// point) is meant to join as the last kind of a chain, after which no f32 op may follow.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

namespace medkern::kernels {

enum class Eltwise : std::uint8_t {
  relu,        ///< max(x, 0)
  leaky_relu,  ///< x >= 0 ? x : alpha * x
  clip,        ///< min(max(x, alpha), beta); relu6 is clip(0, 6)
  linear,      ///< alpha * x + beta
  elu,         ///< x > 0 ? x : alpha * (exp(x) - 1)
  sigmoid,     ///< 1 / (1 + exp(-x))
  tanh,        ///< tanh(x)
  gelu_erf,    ///< x/2 * (1 + erf(x / sqrt 2))
  gelu_tanh,   ///< x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
  hardswish,   ///< x * clip(x + 3, 0, 6) / 6
};

enum class PostOpKind : std::uint8_t { bias, scale, eltwise, prelu, sum };

struct PostOp {
  PostOpKind kind = PostOpKind::bias;
  Eltwise alg = Eltwise::relu;
  const float* data = nullptr;  ///< per-channel data, a residual (sum), or nullptr
  float alpha = 0.f;
  float beta = 0.f;
};

/// Up to kMax post-ops, applied in order.
struct PostOps {
  static constexpr int kMax = 10;
  std::array<PostOp, kMax> ops{};
  int count = 0;

  bool empty() const noexcept { return count == 0; }
  const PostOp* begin() const noexcept { return ops.data(); }
  const PostOp* end() const noexcept { return ops.data() + count; }

  PostOps& bias(const float* b) { return push({PostOpKind::bias, Eltwise::relu, b, 0.f, 0.f}); }
  PostOps& scale(const float* per_column) {
    return push({PostOpKind::scale, Eltwise::relu, per_column, 1.f, 0.f});
  }
  PostOps& scale(float s) { return push({PostOpKind::scale, Eltwise::relu, nullptr, s, 0.f}); }
  PostOps& eltwise(Eltwise alg, float alpha = 0.f, float beta = 0.f) {
    return push({PostOpKind::eltwise, alg, nullptr, alpha, beta});
  }
  /// Per-channel slopes of the negative part.
  PostOps& prelu(const float* per_column) {
    return push({PostOpKind::prelu, Eltwise::relu, per_column, 0.f, 0.f});
  }
  PostOps& prelu(float slope) {
    return push({PostOpKind::prelu, Eltwise::relu, nullptr, slope, 0.f});
  }
  /// c += s * residual; `residual` is bound by the op layer (see the file comment).
  PostOps& sum(float s = 1.f, const float* residual = nullptr) {
    return push({PostOpKind::sum, Eltwise::relu, residual, s, 0.f});
  }

  /// Number of sum ops.
  int sums() const noexcept {
    int k = 0;
    for (const PostOp& op : *this) k += op.kind == PostOpKind::sum;
    return k;
  }
  /// Index of the first sum op, or count when there is none.
  int first_sum() const noexcept {
    for (int i = 0; i < count; ++i)
      if (ops[std::size_t(i)].kind == PostOpKind::sum) return i;
    return count;
  }
  /// The ops before the first sum (what register-tile kernels apply).
  PostOps head() const noexcept {
    PostOps r;
    r.count = first_sum();
    for (int i = 0; i < r.count; ++i) r.ops[std::size_t(i)] = ops[std::size_t(i)];
    return r;
  }
  /// The first sum and every op after it (applied on stored rows).
  PostOps tail() const noexcept {
    PostOps r;
    for (int i = first_sum(); i < count; ++i) r.ops[std::size_t(r.count++)] = ops[std::size_t(i)];
    return r;
  }

  /// The same chain for a sub-tile starting at output column n0 (per-column data shifted).
  PostOps shifted(std::int64_t n0) const noexcept {
    PostOps r = *this;
    for (int i = 0; i < count; ++i) {
      PostOp& op = r.ops[std::size_t(i)];
      if (op.data && op.kind != PostOpKind::sum) op.data += n0;
    }
    return r;
  }

  /// Adds `op`; ignored when the chain is full (callers validate against kMax before).
  PostOps& push(const PostOp& op) {
    if (count < kMax) ops[std::size_t(count++)] = op;
    return *this;
  }
};

/// Scalar eltwise, the reference semantics (std:: functions in double where it is cheap).
inline float eltwise_ref(Eltwise alg, float x, float alpha, float beta) noexcept {
  switch (alg) {
    case Eltwise::relu: return (x > 0.f || x != x) ? x : 0.f;  // NaN propagates, as in torch
    case Eltwise::leaky_relu: return x >= 0.f ? x : alpha * x;
    case Eltwise::clip: return x != x ? x : std::fmin(std::fmax(x, alpha), beta);
    case Eltwise::linear: return alpha * x + beta;
    case Eltwise::elu: return x > 0.f ? x : float(double(alpha) * std::expm1(double(x)));
    case Eltwise::sigmoid: return float(1.0 / (1.0 + std::exp(-double(x))));
    case Eltwise::tanh: return float(std::tanh(double(x)));
    case Eltwise::gelu_erf: return float(0.5 * double(x) * std::erfc(-double(x) / std::sqrt(2.0)));
    case Eltwise::gelu_tanh: {
      const double v = double(x), u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
      return float(0.5 * v * (1.0 + std::tanh(u)));
    }
    case Eltwise::hardswish: return x * std::fmin(std::fmax(x + 3.f, 0.f), 6.f) / 6.f;
  }
  return x;
}

/// Applies the chain to one value of output column n; a sum reads data[e].
inline float apply_post_ops_ref(const PostOps& post, float v, std::int64_t n,
                                std::int64_t e = 0) noexcept {
  for (const PostOp& op : post) {
    switch (op.kind) {
      case PostOpKind::bias: v += op.data[n]; break;
      case PostOpKind::scale: v *= op.data ? op.data[n] : op.alpha; break;
      case PostOpKind::prelu:
        if (v < 0.f) v *= op.data ? op.data[n] : op.alpha;
        break;
      case PostOpKind::eltwise: v = eltwise_ref(op.alg, v, op.alpha, op.beta); break;
      case PostOpKind::sum: v += op.alpha * op.data[e]; break;
    }
  }
  return v;
}

inline const char* eltwise_name(Eltwise alg) noexcept {
  switch (alg) {
    case Eltwise::relu: return "relu";
    case Eltwise::leaky_relu: return "leaky_relu";
    case Eltwise::clip: return "clip";
    case Eltwise::linear: return "linear";
    case Eltwise::elu: return "elu";
    case Eltwise::sigmoid: return "sigmoid";
    case Eltwise::tanh: return "tanh";
    case Eltwise::gelu_erf: return "gelu_erf";
    case Eltwise::gelu_tanh: return "gelu_tanh";
    case Eltwise::hardswish: return "hardswish";
  }
  return "?";
}

inline const char* post_op_name(const PostOp& op) noexcept {
  switch (op.kind) {
    case PostOpKind::bias: return "bias";
    case PostOpKind::scale: return "scale";
    case PostOpKind::prelu: return "prelu";
    case PostOpKind::sum: return "sum";
    case PostOpKind::eltwise: return eltwise_name(op.alg);
  }
  return "?";
}

/// "bias+scale+relu" for verbose logs and names.
inline std::string post_ops_str(const PostOps& post) {
  std::string s;
  for (const PostOp& op : post) {
    if (!s.empty()) s += "+";
    s += post_op_name(op);
  }
  return s.empty() ? "none" : s;
}

}  // namespace medkern::kernels
