// medkern/ml/eigh.hpp — dense symmetric eigensolver (double): blocked Householder
// tridiagonalization, divide-and-conquer tridiagonal eigensolver, blocked WY back-transformation.
//
// The algorithm is LAPACK's dsyevd in outline (dsytrd + dstedc + dormtr); the code is our own:
//   * tridiagonalize — lower storage, panels of kNb columns. Within a panel each column is
//     updated by the panel's earlier reflectors and their W columns (W = tau A v corrected for
//     the pending rank-2k update, as dlatrd); the symmetric matrix-vector product reads the lower
//     triangle once (fused dot + axpy per column, columns split by area over the threads).
//     After a panel the trailing lower triangle takes the rank-2k update A -= V W^T + W V^T as one
//     triangle-only blocked GEMM (gemm.hpp). Half of the flops are in the matrix-vector
//     products, as in every one-stage reduction.
//   * tridiagonal_eigh — Cuppen's divide and conquer: T = diag(T1, T2) + rho u u^T, the halves
//     solved recursively (in parallel), leaves of <= kLeaf rows by Eigen's implicit QL.
//     Merge: deflation of small z components and of close pole pairs (Givens rotation), secular
//     equation roots by a two-pole rational model (the "middle way" of Li, as LAPACK's dlaed4)
//     safeguarded by bisection, with every root kept as a distance from its nearer pole so that
//     d_j - lambda_i is accurate; z recomputed by Loewner's formula (Gu and Eisenstat) so the
//     eigenvectors are orthogonal to working precision even for clustered eigenvalues; the
//     eigenvector update Q U is a blocked GEMM; the merge workspaces come from the scratch pool.
//     Eigenvectors are stored one per row from here on.
//   * back_transform — X = H_0 ... H_{n-2} Z with the reflectors in blocks of kBt (compact WY,
//     I - V T V^T, T upper triangular from V^T V), three blocked GEMMs per block; it writes the
//     rows of vt directly.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "medkern/core/threading.hpp"
#include "medkern/kernels/ml/registry.hpp"
#include "medkern/ml/gemm.hpp"

namespace medkern::ml::detail::eigh {

using i64 = std::int64_t;
using kernels::ml::MlRow;

/// Tridiagonalization panel width. The in-panel corrections (about 6 k m FMAs for column k of a
/// panel, serial between the parallel matrix-vector products) grow with it, the trailing
/// rank-2k GEMM's efficiency with it: 16 against 32 took n = 1000 from 29.7 to 28.1 ms at
/// 2 threads and 42.5 to 41.0 ms at 1 (8 and 12 equal to 16 within noise, 48 slower).
inline constexpr i64 kNb = 16;
inline constexpr i64 kLeaf = 32;  ///< divide-and-conquer leaf size
inline constexpr i64 kBt = 64;    ///< back-transformation block (reflectors per WY block)

inline i64 pad8(i64 n) { return (n + 7) / 8 * 8; }

/// y[0, m) = L v for the symmetric matrix whose lower triangle is stored column-major at `a`
/// (ld lda). Columns go eight at a time through dot_axpy8 (one pass over the block below the
/// diagonal for both the dots and the mirrored axpys; the 8 x 8 diagonal block is scalar), split
/// into chunks of equal area (multiples of 8 columns); per-chunk partial results are summed.
inline void lower_symv(const MlRow& kr, const double* a, i64 lda, i64 m, const double* v,
                       double* y, std::vector<double>& part) {
  const i64 threads = num_threads();
  const i64 chunks = (m < 192 || threads == 1) ? 1 : std::min<i64>(2 * threads, m / 64);
  auto run = [&](i64 j0, i64 j1, double* yy) {
    i64 j = j0;
    for (; j + 8 <= j1; j += 8) {
      for (i64 q = 0; q < 8; ++q) {
        const double* c = a + (j + q) * lda;
        const double vq = v[j + q];
        double acc = c[j + q] * vq;
        for (i64 r = j + q + 1; r < j + 8; ++r) {
          acc += c[r] * v[r];
          yy[r] += c[r] * vq;
        }
        yy[j + q] += acc;
      }
      if (j + 8 < m) {
        double t[8];
        kr.dot_axpy8_f64(m - j - 8, a + j * lda + j + 8, lda, v + j + 8, v + j, yy + j + 8, t);
        for (i64 q = 0; q < 8; ++q) yy[j + q] += t[q];
      }
    }
    for (; j < j1; ++j) {
      const double* c = a + j * lda + j;
      const i64 len = m - j - 1;
      yy[j] += c[0] * v[j] + (len > 0 ? kr.dot_f64(c + 1, v + j + 1, len) : 0.0);
      if (len > 0) kr.axpy_f64(v[j], c + 1, yy + j + 1, len);
    }
  };
  if (chunks == 1) {
    std::fill(y, y + m, 0.0);
    run(0, m, y);
    return;
  }
  // Column j carries m - j entries: boundaries at equal fractions of m^2 / 2.
  std::vector<i64> bnd(static_cast<std::size_t>(chunks + 1));
  for (i64 c = 0; c <= chunks; ++c) {
    const double f = double(c) / double(chunks);
    const i64 b = i64(double(m) * (1.0 - std::sqrt(1.0 - f))) / 8 * 8;  // whole 8-column groups
    bnd[std::size_t(c)] = std::clamp<i64>(b, 0, m);
  }
  bnd[std::size_t(chunks)] = m;
  part.assign(static_cast<std::size_t>(chunks * m), 0.0);
  // static split: each core keeps finding its share of the matrix in its own cache
  parallel_tasks_static(chunks, [&](i64 c) {
    run(bnd[std::size_t(c)], bnd[std::size_t(c + 1)], part.data() + c * m);
  });
  std::fill(y, y + m, 0.0);
  for (i64 c = 0; c < chunks; ++c) {
    const double* p = part.data() + c * m;
    for (i64 j = 0; j < m; ++j) y[j] += p[j];
  }
}

/// Reduces the symmetric matrix A (n x n, column-major, lower triangle used; ld n) to
/// tridiagonal form Q^T A Q = T. On return d (n), e (n - 1) hold T; column i of A below row i
/// holds reflector v_i (v_i[i + 1] = 1 stored explicitly), tau (n - 1) its scalar.
inline void tridiagonalize(const MlRow& kr, i64 n, double* A, double* d, double* e, double* tau) {
  if (n == 1) {
    d[0] = A[0];
    return;
  }
  auto col = [&](i64 j) { return A + j * n; };
  std::vector<double> W(static_cast<std::size_t>(n * kNb), 0.0), y(static_cast<std::size_t>(n)), t1(kNb), t2(kNb), part;
  std::vector<double> Z, Ut, tmp;
  for (i64 j0 = 0; j0 < n - 1; j0 += kNb) {
    const i64 nb = std::min(kNb, n - 1 - j0);
    for (i64 k = 0; k < nb; ++k) {
      const i64 i = j0 + k;
      double* ci = col(i);
      // Column i (rows i..n) by the panel's earlier reflectors: -= V W(i,:)^T + W V(i,:)^T.
      for (i64 q = 0; q < k; ++q) {
        kr.axpy_f64(-W[std::size_t(q * n + i)], col(j0 + q) + i, ci + i, n - i);
        kr.axpy_f64(-col(j0 + q)[i], W.data() + q * n + i, ci + i, n - i);
      }
      d[i] = ci[i];
      // Householder reflector annihilating A(i+2:n, i).
      double* x = ci + i + 1;
      const i64 m = n - i - 1;
      const double alpha = x[0];
      const double xn2 = m > 1 ? kr.dot_f64(x + 1, x + 1, m - 1) : 0.0;
      double* w = W.data() + k * n + i + 1;
      if (xn2 == 0.0) {
        tau[i] = 0.0;
        e[i] = alpha;
        x[0] = 1.0;
        std::fill(w, w + m, 0.0);
        continue;
      }
      const double beta = -std::copysign(std::sqrt(alpha * alpha + xn2), alpha);
      tau[i] = (beta - alpha) / beta;
      const double sc = 1.0 / (alpha - beta);
      for (i64 r = 1; r < m; ++r) x[r] *= sc;
      e[i] = beta;
      x[0] = 1.0;
      // w = tau (A22 - V W^T - W V^T) v, then w -= tau/2 (w.v) v.
      lower_symv(kr, col(i + 1) + i + 1, n, m, x, y.data(), part);
      for (i64 q = 0; q < k; ++q) {
        t1[std::size_t(q)] = kr.dot_f64(W.data() + q * n + i + 1, x, m);
        t2[std::size_t(q)] = kr.dot_f64(col(j0 + q) + i + 1, x, m);
      }
      for (i64 q = 0; q < k; ++q) {
        kr.axpy_f64(-t1[std::size_t(q)], col(j0 + q) + i + 1, y.data(), m);
        kr.axpy_f64(-t2[std::size_t(q)], W.data() + q * n + i + 1, y.data(), m);
      }
      const double ti = tau[i];
      for (i64 r = 0; r < m; ++r) y[std::size_t(r)] *= ti;
      const double a2 = -0.5 * ti * kr.dot_f64(y.data(), x, m);
      for (i64 r = 0; r < m; ++r) w[r] = y[std::size_t(r)] + a2 * x[r];
    }
    // Trailing lower triangle A(j1:n, j1:n) -= V W^T + W V^T. Column-major A seen row-major is
    // R[c][r] = A(r, c): R[c][r] -= sum_q Z[c][q] Ut[q][r], Z = [W V], Ut = [V W]^T.
    const i64 j1 = j0 + nb, mt = n - j1;
    if (mt <= 0) continue;
    const i64 k2 = 2 * nb, ldu = pad8(mt) + 8;
    Z.assign(static_cast<std::size_t>(mt * k2), 0.0);
    Ut.assign(static_cast<std::size_t>(k2 * ldu), 0.0);
    for (i64 q = 0; q < nb; ++q) {
      const double* vq = col(j0 + q);
      const double* wq = W.data() + q * n;
      for (i64 r = 0; r < mt; ++r) {
        Z[std::size_t(r * k2 + q)] = wq[j1 + r];
        Z[std::size_t(r * k2 + nb + q)] = vq[j1 + r];
        Ut[std::size_t(q * ldu + r)] = vq[j1 + r];
        Ut[std::size_t((nb + q) * ldu + r)] = wq[j1 + r];
      }
    }
    // rows r >= c of R only (the strictly upper corner of A is never read)
    gemm_f64(kr, mt, mt, k2, -1.0, MatF64{Z.data(), k2, 1}, MatF64{Ut.data(), ldu, 1}, true,
             col(j1) + j1, n, Tri::upper);
  }
  d[n - 1] = col(n - 1)[n - 1];
}

/// Y = Q X with Q = H_0 ... H_{n-2} from tridiagonalize(), for nc vectors stored as rows:
/// vector c is z[c * ldz + (0..n)] on entry and is written to out(c) (n doubles; out(c) may
/// be z's own row c). Blocks of kBt reflectors act as I - V T V^T (compact WY, T upper
/// triangular from S = V^T V). Each block is prepared once, all on the GEMM micro-kernel:
/// S = V^T V, T from S, then V T; V^T is kept in 8-reflector slivers and V T in 8-row slivers,
/// the kernel's packed layouts. Then the vectors go in strips of kBtStrip, one task each: the
/// strip is packed once into the kernel's interleaved 24-column slivers (n x 72 doubles,
/// about 0.6 MiB, in L2), every block is applied to it in place, W = V^T X_s, X_s -= (V T) W,
/// and it is unpacked once. (Applying each block to all of X instead streams X through L3
/// three times per block: 27.6 against 22.3 ms at n = 1000, 2 threads.)
template <class Out>
inline void back_transform(const MlRow& kr, i64 n, const double* A, const double* tau,
                           const double* z, i64 ldz, i64 nc, Out&& out) {
  constexpr i64 MR = kernels::ml::kGemmMr, NR = kernels::ml::kGemmNr;
  constexpr i64 kBtStrip = 3 * NR;
  const i64 nr = n - 1;  // reflectors
  if (nc <= 0) return;
  if (nr <= 0) {  // Q = I
    for (i64 c = 0; c < nc; ++c) std::copy(z + c * ldz, z + c * ldz + n, out(c));
    return;
  }
  const i64 nblk = (nr + kBt - 1) / kBt;
  // Packed block b: V^T slivers (kBt / 8 of them, m x 8 each) then (V T) slivers (ceil(m / 8)
  // of them, kBt x 8 each), at offset off[b].
  std::vector<i64> off(static_cast<std::size_t>(nblk + 1), 0);
  for (i64 b = 0; b < nblk; ++b) {
    const i64 m = n - (b * kBt + 1);
    off[std::size_t(b + 1)] = off[std::size_t(b)] + m * kBt + pad8(m) * kBt;
  }
  Scratch packed(off[std::size_t(nblk)]);
  constexpr i64 kBs = (kBt + NR - 1) / NR;  // 24-column slivers spanning a block's reflectors
  parallel_tasks(nblk, [&](i64 b) {
    const i64 i0 = b * kBt, nb = std::min(kBt, nr - i0), r0 = i0 + 1, m = n - r0, m8 = pad8(m);
    // reflector q of the block: rows [r0 + q, n) of column i0 + q (unit first entry)
    auto vcol = [&](i64 q) { return A + (i0 + q) * n + r0 + q; };
    double* vt = packed.data() + off[std::size_t(b)];
    double* vtt = vt + m * kBt;
    // V^T sliver s: vt[s*m*8 + r*8 + i] = V(r, 8s + i) (zero above the unit diagonal, past nb)
    // V in 24-column slivers: vb[sl*m*24 + r*24 + j] = V(r, 24 sl + j)
    // V in 8-row slivers: vtt[t*kBt*8 + l*8 + i] = V(8t + i, l) (overwritten by V T below)
    Scratch vb(kBs * NR * m), vtrow(m8 * kBs * NR);
    std::fill(vt, vt + m * kBt, 0.0);
    std::fill(vb.data(), vb.data() + kBs * NR * m, 0.0);
    std::fill(vtt, vtt + m8 * kBt, 0.0);
    for (i64 q = 0; q < nb; ++q) {
      const double* v = vcol(q);
      double* d1 = vt + (q / MR) * m * MR + q % MR;
      double* d2 = vb.data() + (q / NR) * NR * m + q % NR;
      double* d3 = vtt + q * MR;
      for (i64 r = q; r < m; ++r) {
        d1[r * MR] = v[r - q];
        d2[r * NR] = v[r - q];
        d3[(r / MR) * kBt * MR + r % MR] = v[r - q];
      }
    }
    // S = V^T V (upper triangle used; reflector sliver s starts at row 8s)
    constexpr i64 ldS = kBs * NR;
    std::vector<double> S(static_cast<std::size_t>(kBt * ldS));
    std::vector<double> T(S.size(), 0.0);
    for (i64 s = 0; s * MR < nb; ++s)
      for (i64 sl = s * MR / NR; sl * NR < nb; ++sl)
        kr.gemm_ukr_f64(m - s * MR, vt + s * m * MR + s * MR * MR, MR,
                        vb.data() + sl * NR * m + s * MR * NR, 1.0, false,
                        S.data() + s * MR * ldS + sl * NR, ldS, int(MR), int(NR));
    // T(0:j, j) = -tau_j T(0:j, 0:j) S(0:j, j), T(j, j) = tau_j (row-major, ld ldS)
    for (i64 j = 0; j < nb; ++j) {
      const double tj = tau[i0 + j];
      for (i64 q = 0; q < j; ++q) {
        double acc = 0;
        for (i64 l = q; l < j; ++l)
          acc += T[std::size_t(q * ldS + l)] * S[std::size_t(l * ldS + j)];
        T[std::size_t(q * ldS + j)] = -tj * acc;
      }
      T[std::size_t(j * ldS + j)] = tj;
    }
    // V T row-major (m8 x kBs*24): 8-row slivers of V against T in 24-column slivers.
    std::vector<double> tb(static_cast<std::size_t>(kBs * NR * kBt), 0.0);
    for (i64 l = 0; l < nb; ++l)
      for (i64 q = 0; q < nb; ++q)
        tb[std::size_t((q / NR) * NR * kBt + l * NR + q % NR)] = T[std::size_t(l * ldS + q)];
    for (i64 t = 0; t * MR < m; ++t)
      for (i64 sl = 0; sl * NR < nb; ++sl)
        kr.gemm_ukr_f64(nb, vtt + t * kBt * MR, MR, tb.data() + sl * NR * kBt, 1.0, false,
                        vtrow.data() + t * MR * ldS + sl * NR, ldS, int(MR), int(NR));
    // (V T) sliver t: vtt[t*kBt*8 + q*8 + i] = (V T)(8t + i, q); every entry with r < m and
    // q < nb is rewritten, the ones past m or nb are still zero from the fill above
    for (i64 r = 0; r < m; ++r) {
      double* d = vtt + (r / MR) * kBt * MR + r % MR;
      const double* sr = vtrow.data() + r * ldS;
      for (i64 q = 0; q < nb; ++q) d[q * MR] = sr[q];
    }
  });
  const i64 strips = (nc + kBtStrip - 1) / kBtStrip;
  parallel_tasks(strips, [&](i64 st) {
    const i64 c0 = st * kBtStrip, wc = std::min(kBtStrip, nc - c0), nsl = (wc + NR - 1) / NR;
    Scratch xs(nsl * NR * n), w(nsl * NR * kBt);
    // X_s as interleaved slivers: xs[sl*n*24 + r*24 + j] = vector c0 + 24 sl + j, component r
    // (zero past the strip), in row chunks so the written sliver rows stay in L1.
    constexpr i64 kRows = 64;
    for (i64 sl = 0; sl < nsl; ++sl) {
      double* d = xs.data() + sl * NR * n;
      const i64 cw = std::min(NR, wc - sl * NR);
      for (i64 q0 = 0; q0 < n; q0 += kRows) {
        const i64 q1 = std::min(n, q0 + kRows);
        for (i64 j = 0; j < NR; ++j) {
          if (j < cw) {
            const double* src = z + (c0 + sl * NR + j) * ldz;
            for (i64 r = q0; r < q1; ++r) d[r * NR + j] = src[r];
          } else {
            for (i64 r = q0; r < q1; ++r) d[r * NR + j] = 0.0;
          }
        }
      }
    }
    for (i64 b = nblk - 1; b >= 0; --b) {
      const i64 i0 = b * kBt, nb = std::min(kBt, nr - i0), r0 = i0 + 1, m = n - r0;
      const double* vt = packed.data() + off[std::size_t(b)];
      const double* vtt = vt + m * kBt;
      // W = V^T X_s (rows [r0, n) of the strip), written straight into interleaved slivers
      // (ld 24); reflector sliver s starts at row 8s (V is zero above its unit diagonal).
      // In k chunks of kChunk rows: a chunk of an X_s sliver (24 KiB) stays in L1 across the
      // reflector slivers.
      const i64 nbs = (nb + MR - 1) / MR;
      constexpr i64 kChunk = 128;
      for (i64 k0 = 0; k0 < m; k0 += kChunk) {
        const i64 k1 = std::min(m, k0 + kChunk);
        for (i64 sl = 0; sl < nsl; ++sl)
          for (i64 s = 0; s < nbs && s * MR < k1; ++s) {
            const i64 ks = std::max(k0, s * MR);
            kr.gemm_ukr_f64(k1 - ks, vt + s * m * MR + ks * MR, MR,
                            xs.data() + sl * NR * n + (r0 + ks) * NR, 1.0, ks > s * MR,
                            w.data() + sl * NR * kBt + s * MR * NR, NR, int(MR), int(NR));
          }
      }
      // X_s -= (V T) W, on the packed strip (an 8 x 24 tile is 8 consecutive sliver rows)
      for (i64 t = 0; t * MR < m; ++t)
        for (i64 sl = 0; sl < nsl; ++sl)
          kr.gemm_ukr_f64(nb, vtt + t * kBt * MR, MR, w.data() + sl * NR * kBt, -1.0, true,
                          xs.data() + sl * NR * n + (r0 + t * MR) * NR, NR,
                          int(std::min(MR, m - t * MR)), int(NR));
    }
    for (i64 sl = 0; sl < nsl; ++sl) {
      const double* sv = xs.data() + sl * NR * n;
      const i64 cw = std::min(NR, wc - sl * NR);
      for (i64 q0 = 0; q0 < n; q0 += kRows) {
        const i64 q1 = std::min(n, q0 + kRows);
        for (i64 j = 0; j < cw; ++j) {
          double* dst = out(c0 + sl * NR + j);
          for (i64 r = q0; r < q1; ++r) dst[r] = sv[r * NR + j];
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Divide and conquer on the tridiagonal matrix.

/// Root i of 1 + rho sum_j z_j^2 / (dl_j - lambda) = 0 (dl ascending, rho > 0). Writes
/// delta[j] = dl_j - lambda_i, each computed from the nearer pole; returns lambda_i.
inline double secular_root(i64 K, const double* dl, const double* z2, double rho, i64 i,
                           double* delta) {
  constexpr double eps = std::numeric_limits<double>::epsilon();
  i64 org;
  double lo, hi;
  if (i < K - 1) {
    const double gap = dl[i + 1] - dl[i], mid = 0.5 * gap;
    double f = 1.0;
    for (i64 j = 0; j < K; ++j) f += rho * z2[j] / ((dl[j] - dl[i]) - mid);
    if (f >= 0) {
      org = i;
      lo = 0.0;
      hi = mid;
    } else {
      org = i + 1;
      lo = -mid;
      hi = 0.0;
    }
  } else {
    org = K - 1;
    double zs = 0;
    for (i64 j = 0; j < K; ++j) zs += z2[j];
    lo = 0.0;
    hi = rho * zs;
  }
  const double o = dl[org];
  for (i64 j = 0; j < K; ++j) delta[j] = dl[j] - o;
  double t = 0.5 * (lo + hi);
  for (int it = 0; it < 200; ++it) {
    double psi = 0, dpsi = 0, phi = 0, dphi = 0, asum = 0;
    for (i64 j = 0; j <= i; ++j) {
      const double r = 1.0 / (delta[j] - t), q = rho * z2[j] * r;
      psi += q;
      dpsi += q * r;
      asum += std::fabs(q);
    }
    for (i64 j = i + 1; j < K; ++j) {
      const double r = 1.0 / (delta[j] - t), q = rho * z2[j] * r;
      phi += q;
      dphi += q * r;
      asum += std::fabs(q);
    }
    const double g = 1.0 + psi + phi;
    if (g == 0.0) break;
    if (g > 0)
      hi = t;
    else
      lo = t;
    if (std::fabs(g) <= 4.0 * eps * double(K) * (1.0 + asum)) break;
    if (hi - lo <= 2.0 * eps * std::max(std::fabs(lo), std::fabs(hi))) break;
    // Two-pole model c + bp / (delta_i - s) + bf / (delta_{i+1} - s) through (t, g, g').
    const double di = delta[i] - t;
    double tn;
    if (i < K - 1) {
      const double di1 = delta[i + 1] - t;
      const double bp = dpsi * di * di, bf = dphi * di1 * di1;
      const double c = g - bp / di - bf / di1;
      const double A = c, B = c * (di + di1) + bp + bf, C = di * di1 * g;
      double eta;
      if (A == 0.0) {
        eta = C / B;
      } else {
        const double disc = std::sqrt(std::max(B * B - 4.0 * A * C, 0.0));
        const double qq = 0.5 * (B + std::copysign(disc, B));
        const double e1 = qq / A, e2 = qq != 0.0 ? C / qq : e1;
        // the root between the poles: delta_i - t < eta < delta_{i+1} - t
        const bool ok1 = e1 > di && e1 < di1, ok2 = e2 > di && e2 < di1;
        eta = ok2 ? e2 : (ok1 ? e1 : 0.5 * (lo + hi) - t);
      }
      tn = t + eta;
    } else {
      const double bp = dpsi * di * di;
      const double c = g - bp / di;
      tn = c != 0.0 ? t + di + bp / c : 0.5 * (lo + hi);
    }
    if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
    if (tn == t) break;
    t = tn;
  }
  for (i64 j = 0; j < K; ++j) delta[j] -= t;
  return o + t;
}

/// Eigen-decomposition of the symmetric tridiagonal (d, e): d <- eigenvalues ascending; rows
/// of z (n x n block of a row-major matrix, ld ldz, zero outside the block on entry) <-
/// eigenvectors, z[i * ldz + r] = component r of eigenvector i. e is read only.
/// Eigenvector-major storage makes every merge's gather and final reorder whole-row copies
/// (component-major, both were strided transposes: 22.9 -> 20.6 ms at n = 1000, 2 threads).
inline void tridiagonal_eigh(const MlRow& kr, i64 n, double* d, const double* e, double* z,
                             i64 ldz) {
  if (n <= kLeaf) {
    Eigen::VectorXd dg(n), sd(std::max<i64>(n - 1, 0));
    for (i64 i = 0; i < n; ++i) dg(i) = d[i];
    for (i64 i = 0; i + 1 < n; ++i) sd(i) = e[i];
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
    es.computeFromTridiagonal(dg, sd, Eigen::ComputeEigenvectors);
    for (i64 i = 0; i < n; ++i) {
      d[i] = es.eigenvalues()(i);
      for (i64 r = 0; r < n; ++r) z[i * ldz + r] = es.eigenvectors()(r, i);
    }
    return;
  }
  const i64 m = n / 2;
  const double beta = e[m - 1], rho0 = std::fabs(beta);
  d[m - 1] -= rho0;
  d[m] -= rho0;
  if (n >= 256) {
    parallel_tasks(2, [&](i64 h) {
      if (h == 0)
        tridiagonal_eigh(kr, m, d, e, z, ldz);
      else
        tridiagonal_eigh(kr, n - m, d + m, e + m, z + m * ldz + m, ldz);
    });
  } else {
    tridiagonal_eigh(kr, m, d, e, z, ldz);
    tridiagonal_eigh(kr, n - m, d + m, e + m, z + m * ldz + m, ldz);
  }
  // u = Q^T (e_{m-1} + sign(beta) e_m): last row of Q1, first row of Q2.
  std::vector<double> u(static_cast<std::size_t>(n), 0.0);
  for (i64 j = 0; j < m; ++j) u[std::size_t(j)] = z[j * ldz + (m - 1)];
  const double sg = beta < 0 ? -1.0 : 1.0;
  for (i64 j = m; j < n; ++j) u[std::size_t(j)] = sg * z[j * ldz + m];
  double un = 0;
  for (double v : u) un += v * v;
  double rho = rho0 * un;
  const double is = 1.0 / std::sqrt(un);
  for (double& v : u) v *= is;
  // Sort the poles; gather the columns in that order (row-major n x n8).
  std::vector<i64> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](i64 a, i64 b) { return d[a] < d[b]; });
  std::vector<double> ds(static_cast<std::size_t>(n)), zs(static_cast<std::size_t>(n));
  std::vector<int> typ(static_cast<std::size_t>(n));  // 1: rows [0, m) only, 2: [m, n), 3: both
  for (i64 j = 0; j < n; ++j) {
    typ[std::size_t(j)] = perm[std::size_t(j)] < m ? 1 : 2;
    ds[std::size_t(j)] = d[perm[std::size_t(j)]];
    zs[std::size_t(j)] = u[std::size_t(perm[std::size_t(j)])];
  }
  // Qw column-major (column j contiguous) so Givens rotations touch contiguous columns.
  Scratch Qw(n * n);
  parallel_for_1d(n, 32, [&](i64 j0, i64 j1) {
    for (i64 j = j0; j < j1; ++j) {
      const double* src = z + perm[std::size_t(j)] * ldz;
      std::copy(src, src + n, Qw.data() + j * n);
    }
  });
  // Deflation.
  constexpr double eps = std::numeric_limits<double>::epsilon();
  double dmax = 0;
  for (double v : ds) dmax = std::max(dmax, std::fabs(v));
  const double tol = 8.0 * eps * std::max(dmax, rho);
  std::vector<i64> keep, defl;
  keep.reserve(static_cast<std::size_t>(n));
  i64 prev = -1;
  for (i64 j = 0; j < n; ++j) {
    if (rho * std::fabs(zs[std::size_t(j)]) <= tol) {
      defl.push_back(j);
      continue;
    }
    if (prev < 0) {
      prev = j;
      continue;
    }
    const double zp = zs[std::size_t(prev)], zj = zs[std::size_t(j)];
    const double tn = std::hypot(zp, zj);
    const double c = zj / tn, s = -zp / tn;
    const double t = ds[std::size_t(j)] - ds[std::size_t(prev)];
    if (std::fabs(t * c * s) <= tol) {
      zs[std::size_t(j)] = tn;
      zs[std::size_t(prev)] = 0.0;
      double* x = Qw.data() + prev * n;
      double* y = Qw.data() + j * n;
      for (i64 r = 0; r < n; ++r) {
        const double xr = x[r], yr = y[r];
        x[r] = c * xr + s * yr;
        y[r] = c * yr - s * xr;
      }
      const double dp = ds[std::size_t(prev)], dj = ds[std::size_t(j)];
      ds[std::size_t(prev)] = dp * c * c + dj * s * s;
      ds[std::size_t(j)] = dp * s * s + dj * c * c;
      if (typ[std::size_t(prev)] != typ[std::size_t(j)]) typ[std::size_t(prev)] = typ[std::size_t(j)] = 3;
      defl.push_back(prev);
    } else {
      keep.push_back(prev);
    }
    prev = j;
  }
  if (prev >= 0) keep.push_back(prev);
  const i64 K = i64(keep.size());
  std::vector<double> lam(static_cast<std::size_t>(n));
  // Output columns (column-major, ld ldo): K secular ones (Q U), then the deflated ones.
  const i64 ldo = pad8(n) + 8;
  Scratch out(n * ldo);
  if (K > 0) {
    std::vector<double> dl(static_cast<std::size_t>(K)), zl(static_cast<std::size_t>(K)),
        z2(static_cast<std::size_t>(K));
    for (i64 a = 0; a < K; ++a) {
      dl[std::size_t(a)] = ds[std::size_t(keep[std::size_t(a)])];
      zl[std::size_t(a)] = zs[std::size_t(keep[std::size_t(a)])];
      z2[std::size_t(a)] = zl[std::size_t(a)] * zl[std::size_t(a)];
    }
    Scratch delta(K * K);  // row i: dl_j - lambda_i
    parallel_for_1d(K, 16, [&](i64 i0, i64 i1) {
      for (i64 i = i0; i < i1; ++i)
        lam[std::size_t(i)] = secular_root(K, dl.data(), z2.data(), rho, i, delta.data() + i * K);
    });
    // Loewner: zhat_j^2 = (lambda_j - d_j)/rho prod_{i != j} (lambda_i - d_j) / (d_i - d_j),
    // accumulated over the rows of delta (contiguous) for chunks of j.
    std::vector<double> zh(static_cast<std::size_t>(K));
    for (i64 j = 0; j < K; ++j) zh[std::size_t(j)] = -delta[std::size_t(j * K + j)] / rho;
    parallel_for_1d(K, 64, [&](i64 j0, i64 j1) {
      double* p = zh.data();
      const double* dd = dl.data();
      for (i64 i = 0; i < K; ++i) {
        const double* row = delta.data() + i * K;
        const double di = dd[i];
        const i64 a = std::min(std::max(i, j0), j1);
        for (i64 j = j0; j < a; ++j) p[j] *= row[j] / (dd[j] - di);
        for (i64 j = std::max(a, i + 1); j < j1; ++j) p[j] *= row[j] / (dd[j] - di);
      }
    });
    for (i64 j = 0; j < K; ++j)
      zh[std::size_t(j)] = std::copysign(std::sqrt(std::max(zh[std::size_t(j)], 0.0)), zl[std::size_t(j)]);
    // Columns of Q that are zero in the bottom rows [m, n) (type 1) or the top rows (type 2)
    // take part in only one half of the product (as LAPACK's dlaed2 / dlaed3).
    std::vector<i64> top, bot;
    for (i64 a = 0; a < K; ++a) {
      const int t = typ[std::size_t(keep[std::size_t(a)])];
      if (t != 2) top.push_back(a);
      if (t != 1) bot.push_back(a);
    }
    const i64 K1 = i64(top.size()), K2 = i64(bot.size()), mb = n - m;
    const i64 ld1 = pad8(m), ld2 = pad8(mb);
    // U^T rows (eigenvector i of the rank-one problem), split by the two column groups.
    Scratch U1(K * std::max<i64>(K1, 1)), U2(K * std::max<i64>(K2, 1));
    Scratch B1(std::max<i64>(K1, 1) * ld1), B2(std::max<i64>(K2, 1) * ld2);
    for (i64 a = 0; a < K1; ++a)
      std::copy(Qw.data() + keep[std::size_t(top[std::size_t(a)])] * n,
                Qw.data() + keep[std::size_t(top[std::size_t(a)])] * n + m, B1.data() + a * ld1);
    for (i64 a = 0; a < K2; ++a)
      std::copy(Qw.data() + keep[std::size_t(bot[std::size_t(a)])] * n + m,
                Qw.data() + keep[std::size_t(bot[std::size_t(a)])] * n + n, B2.data() + a * ld2);
    parallel_for_1d(K, 16, [&](i64 i0, i64 i1) {
      std::vector<double> u(static_cast<std::size_t>(K));
      for (i64 i = i0; i < i1; ++i) {
        const double* dr = delta.data() + i * K;
        double s2 = 0;
        for (i64 j = 0; j < K; ++j) {
          u[std::size_t(j)] = zh[std::size_t(j)] / dr[j];
          s2 += u[std::size_t(j)] * u[std::size_t(j)];
        }
        const double inv = 1.0 / std::sqrt(s2);
        for (i64 a = 0; a < K1; ++a) U1[i * K1 + a] = u[std::size_t(top[std::size_t(a)])] * inv;
        for (i64 a = 0; a < K2; ++a) U2[i * K2 + a] = u[std::size_t(bot[std::size_t(a)])] * inv;
      }
    });
    // out column i = Q U(:, i): top rows from group 1, then bottom rows from group 2 (the top
    // product's padding spills into the bottom rows before they are written).
    if (K1 > 0)
      gemm_f64(kr, K, m, K1, 1.0, MatF64{U1.data(), K1, 1}, MatF64{B1.data(), ld1, 1}, false,
               out.data(), ldo);
    else
      for (i64 i = 0; i < K; ++i) std::fill(out.data() + i * ldo, out.data() + i * ldo + m, 0.0);
    if (K2 > 0)
      gemm_f64(kr, K, mb, K2, 1.0, MatF64{U2.data(), K2, 1}, MatF64{B2.data(), ld2, 1}, false,
               out.data() + m, ldo);
    else
      for (i64 i = 0; i < K; ++i) std::fill(out.data() + i * ldo + m, out.data() + i * ldo + n, 0.0);
  }
  for (i64 a = 0; a < i64(defl.size()); ++a) {
    const i64 j = defl[std::size_t(a)];
    lam[std::size_t(K + a)] = ds[std::size_t(j)];
    std::copy(Qw.data() + j * n, Qw.data() + (j + 1) * n, out.data() + (K + a) * ldo);
  }
  std::vector<i64> ord(static_cast<std::size_t>(n));
  std::iota(ord.begin(), ord.end(), 0);
  std::stable_sort(ord.begin(), ord.end(),
                   [&](i64 a, i64 b) { return lam[std::size_t(a)] < lam[std::size_t(b)]; });
  for (i64 c = 0; c < n; ++c) d[c] = lam[std::size_t(ord[std::size_t(c)])];
  parallel_for_1d(n, 32, [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      const double* oc = out.data() + ord[std::size_t(c)] * ldo;
      std::copy(oc, oc + n, z + c * ldz);
    }
  });
}

/// Symmetric eigen-decomposition of the n x n matrix `a` (n * n doubles, row-major =
/// column-major; both triangles on entry, overwritten): eigenvalues descending in w,
/// eigenvectors as rows of vt.
inline void sym_eigh(i64 n, double* a, std::vector<double>& w, std::vector<double>& vt) {
  w.assign(static_cast<std::size_t>(n), 0.0);
  vt.resize(static_cast<std::size_t>(n * n));  // every entry is written below
  if (n == 0) return;
  const MlRow& kr = kernels::ml::active_kernels();
  const i64 nn = n * n;
  double scale = parallel_reduce_ordered<double>(
      nn, 65536, 0.0,
      [&](i64 b, i64 e) {
        double m = 0;
        for (i64 i = b; i < e; ++i) m = std::max(m, std::fabs(a[i]));
        return m;
      },
      [](double x, double y) { return std::max(x, y); });
  if (!(scale > 0)) scale = 1;
  const double is = 1.0 / scale;
  parallel_for_1d(nn, 65536, [&](i64 b, i64 e) {
    for (i64 i = b; i < e; ++i) a[i] *= is;
  });
  std::vector<double> d(static_cast<std::size_t>(n)), e(static_cast<std::size_t>(std::max<i64>(n - 1, 1))),
      tau(static_cast<std::size_t>(std::max<i64>(n - 1, 1)));
  tridiagonalize(kr, n, a, d.data(), e.data(), tau.data());
  const i64 n8 = pad8(n) + 8;
  Scratch X(n * n8);  // pooled: no fresh pages to fault in
  parallel_for_1d(n, 64, [&](i64 r0, i64 r1) {
    std::fill(X.data() + r0 * n8, X.data() + r1 * n8, 0.0);
  });
  tridiagonal_eigh(kr, n, d.data(), e.data(), X.data(), n8);
  // eigenvector c (ascending) becomes row n - 1 - c of vt (descending)
  back_transform(kr, n, a, tau.data(), X.data(), n8, n,
                 [&](i64 c) { return vt.data() + (n - 1 - c) * n; });
  for (i64 r = 0; r < n; ++r) w[std::size_t(r)] = d[std::size_t(n - 1 - r)] * scale;
}

}  // namespace medkern::ml::detail::eigh
