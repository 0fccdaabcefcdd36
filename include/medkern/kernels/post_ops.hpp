// medkern/kernels/post_ops.hpp — the post-op chain applied to an output tile while it is still
// in registers: a small value type shared by BRGEMM and the kernels built on it.
//
// Ops apply in order to the f32 accumulator of element (m, n) of C after the full reduction:
//   bias:    c += data[n]
//   scale:   c *= (data ? data[n] : alpha)          (per output column, or one scalar)
//   eltwise: c = f(c) with f from Eltwise and its alpha/beta
// More kinds (residual sum, per-channel binary, requantize) extend the enum; a kernel that
// does not implement a kind refuses it in supports(), and dispatch falls back.
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
};

enum class PostOpKind : std::uint8_t { bias, scale, eltwise };

struct PostOp {
  PostOpKind kind = PostOpKind::bias;
  Eltwise alg = Eltwise::relu;
  const float* data = nullptr;  ///< bias[n] or scale[n]; nullptr for a scalar scale
  float alpha = 0.f;
  float beta = 0.f;
};

/// Up to kMax post-ops, applied in order.
struct PostOps {
  static constexpr int kMax = 4;
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

  /// The same chain for a sub-tile starting at output column n0 (per-column data shifted).
  PostOps shifted(std::int64_t n0) const noexcept {
    PostOps r = *this;
    for (int i = 0; i < count; ++i)
      if (r.ops[std::size_t(i)].data) r.ops[std::size_t(i)].data += n0;
    return r;
  }

  /// Adds `op`; ignored when the chain is full (callers validate against kMax before).
  PostOps& push(const PostOp& op) {
    if (count < kMax) ops[std::size_t(count++)] = op;
    return *this;
  }
};

/// Scalar eltwise, the reference semantics.
inline float eltwise_ref(Eltwise alg, float x, float alpha, float beta) noexcept {
  switch (alg) {
    case Eltwise::relu: return x > 0.f ? x : 0.f;
    case Eltwise::leaky_relu: return x >= 0.f ? x : alpha * x;
    case Eltwise::clip: return std::fmin(std::fmax(x, alpha), beta);
    case Eltwise::linear: return alpha * x + beta;
  }
  return x;
}

/// Applies the chain to one accumulator value of output column n.
inline float apply_post_ops_ref(const PostOps& post, float v, std::int64_t n) noexcept {
  for (const PostOp& op : post) {
    switch (op.kind) {
      case PostOpKind::bias: v += op.data[n]; break;
      case PostOpKind::scale: v *= op.data ? op.data[n] : op.alpha; break;
      case PostOpKind::eltwise: v = eltwise_ref(op.alg, v, op.alpha, op.beta); break;
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
  }
  return "?";
}

/// "bias+scale+relu" for verbose logs and names.
inline std::string post_ops_str(const PostOps& post) {
  std::string s;
  for (const PostOp& op : post) {
    if (!s.empty()) s += "+";
    s += op.kind == PostOpKind::bias ? "bias" : op.kind == PostOpKind::scale ? "scale" : eltwise_name(op.alg);
  }
  return s.empty() ? "none" : s;
}

}  // namespace medkern::kernels
