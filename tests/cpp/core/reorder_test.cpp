// tests/cpp/core/reorder_test.cpp — layout reorders: every registry row against ref, ref
// against an independent index formula, round trips through the op, padding, guards, errors.
//
// Buffers are byte arrays filled from a printed seed; dst and a guard tail of kGuard bytes
// start as a sentinel, so padding lanes that a kernel forgets to zero and writes past the end
// both show up. Base pointers are offset by one element from the allocation, so kernels
// cannot rely on alignment.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "medkern/core/cpu.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/tensor.hpp"
#include "medkern/kernels/reorder/ref.hpp"
#include "medkern/kernels/reorder/registry.hpp"
#include "medkern/ops/reorder.hpp"

namespace {

using medkern::DType;
using medkern::ShapeError;
using medkern::TensorView;
using medkern::kernels::reorder::Format;
using medkern::kernels::reorder::kRegistry;
using medkern::kernels::reorder::ReorderDesc;
using medkern::kernels::reorder::ReorderRow;
using medkern::ops::Layout;

constexpr std::int64_t kGuard = 64;               // sentinel bytes after every dst
constexpr std::uint8_t kSentinel = 0xa5;
constexpr std::int64_t kChannels[] = {1, 3, 15, 16, 17, 33};
constexpr std::int64_t kSpatial[] = {1, 7, 16, 17, 31, 49};
constexpr std::int64_t kBatches[] = {1, 3};
constexpr int kElemSizes[] = {4, 2, 1};
constexpr Format kFormats[] = {Format::planar, Format::channels_last, Format::blocked16};

/// A byte buffer holding `bytes` at offset `misalign` plus a sentinel guard tail.
struct Buf {
  std::vector<std::uint8_t> mem;
  std::int64_t off = 0, bytes = 0;

  Buf(std::int64_t n_bytes, std::int64_t misalign)
      : mem(std::size_t(n_bytes + misalign + kGuard), kSentinel), off(misalign), bytes(n_bytes) {}
  std::uint8_t* data() { return mem.data() + off; }
  void randomize(std::uint64_t seed) {
    std::mt19937_64 g(seed);
    for (std::int64_t i = 0; i < bytes; ++i) data()[i] = std::uint8_t(g() | 1u);  // never 0
  }
  bool guard_intact() const {
    for (std::int64_t i = off + bytes; i < std::int64_t(mem.size()); ++i)
      if (mem[std::size_t(i)] != kSentinel) return false;
    for (std::int64_t i = 0; i < off; ++i)
      if (mem[std::size_t(i)] != kSentinel) return false;
    return true;
  }
};

std::int64_t elems(Format f, const ReorderDesc& d) {
  return f == Format::blocked16 ? d.N * d.blocks() * d.S * 16 : d.N * d.C * d.S;
}

/// Independent statement of the layouts: nested loops in storage order of each format.
/// Returns, for every dst element index, the src element index it must hold (-1 for padding).
std::vector<std::int64_t> expected_map(const ReorderDesc& d) {
  auto src_index = [&](std::int64_t n, std::int64_t c, std::int64_t s) -> std::int64_t {
    switch (d.src) {
      case Format::planar: return n * d.C * d.S + c * d.S + s;
      case Format::channels_last: return n * d.S * d.C + s * d.C + c;
      case Format::blocked16:
        return n * d.blocks() * d.S * 16 + (c / 16) * d.S * 16 + s * 16 + c % 16;
    }
    return -2;
  };
  std::vector<std::int64_t> map;
  for (std::int64_t n = 0; n < d.N; ++n) {
    if (d.dst == Format::planar) {
      for (std::int64_t c = 0; c < d.C; ++c)
        for (std::int64_t s = 0; s < d.S; ++s) map.push_back(src_index(n, c, s));
    } else if (d.dst == Format::channels_last) {
      for (std::int64_t s = 0; s < d.S; ++s)
        for (std::int64_t c = 0; c < d.C; ++c) map.push_back(src_index(n, c, s));
    } else {
      for (std::int64_t b = 0; b < d.blocks(); ++b)
        for (std::int64_t s = 0; s < d.S; ++s)
          for (std::int64_t l = 0; l < 16; ++l)
            map.push_back(b * 16 + l < d.C ? src_index(n, b * 16 + l, s) : -1);
    }
  }
  return map;
}

/// Runs `row` over the whole problem in (n, cb, spatial range) pieces, splitting the spatial
/// range at `split` so a range that starts mid-tile is exercised.
void run_all(const ReorderRow& row, const ReorderDesc& d, const void* src, void* dst,
             std::int64_t split) {
  for (std::int64_t n = 0; n < d.N; ++n)
    for (std::int64_t cb = 0; cb < d.blocks(); ++cb) {
      row.run(d, src, dst, n, cb, 0, split);
      row.run(d, src, dst, n, cb, split, d.S);
    }
}

std::string problem(const ReorderRow& row, const ReorderDesc& d, std::uint64_t seed) {
  return std::string(row.name) + " " + medkern::kernels::reorder::describe(d) +
         " seed=" + std::to_string(seed);
}

/// Checks one row on one problem: bytes equal the expected map (and hence ref), padding lanes
/// are zero, guards are intact.
void check_row(const ReorderRow& row, const ReorderDesc& d, std::uint64_t seed) {
  const std::int64_t es = d.elem_size;
  Buf src(elems(d.src, d) * es, es), dst(elems(d.dst, d) * es, es);
  src.randomize(seed);
  if (d.src == Format::blocked16) {  // a well-formed blocked source has zero padding lanes
    for (std::int64_t i = 0; i < elems(d.src, d); ++i)
      if ((i % 16) + ((i / 16 / d.S) % d.blocks()) * 16 >= d.C)
        std::memset(src.data() + i * es, 0, std::size_t(es));
  }
  const std::int64_t split = d.S / 2 + (d.S > 2 ? 1 : 0);
  run_all(row, d, src.data(), dst.data(), split);
  const auto map = expected_map(d);
  REQUIRE(std::int64_t(map.size()) == elems(d.dst, d));
  std::int64_t bad = -1;
  for (std::int64_t i = 0; i < std::int64_t(map.size()) && bad < 0; ++i) {
    const std::uint8_t* got = dst.data() + i * es;
    if (map[std::size_t(i)] < 0) {
      for (std::int64_t b = 0; b < es; ++b)
        if (got[b] != 0) bad = i;
    } else if (std::memcmp(got, src.data() + map[std::size_t(i)] * es, std::size_t(es)) != 0) {
      bad = i;
    }
  }
  INFO(problem(row, d, seed), " first bad dst element ", bad);
  CHECK(bad == -1);
  CHECK(dst.guard_intact());
  CHECK(src.guard_intact());
}

bool row_available(const ReorderRow& row) {
  if (medkern::cpu_info().supports(row.isa)) return true;
  MESSAGE("skipping ", row.name, ": CPU lacks ", medkern::isa_name(row.isa));
  return false;
}

}  // namespace

TEST_CASE("reorder kernels: every row matches the layout formulas (and so ref)") {
  std::uint64_t seed = 1;
  for (const ReorderRow& row : kRegistry) {
    if (!row_available(row)) continue;
    for (int es : kElemSizes)
      for (Format fs : kFormats)
        for (Format fd : kFormats)
          for (std::int64_t n : kBatches)
            for (std::int64_t c : kChannels)
              for (std::int64_t s : kSpatial) {
                ReorderDesc d;
                d.src = fs;
                d.dst = fd;
                d.elem_size = es;
                d.N = n;
                d.C = c;
                d.S = s;
                if (!row.supports(d)) continue;
                check_row(row, d, seed++);
              }
  }
}

TEST_CASE("reorder kernels: long spatial runs (many full tiles plus a tail)") {
  std::uint64_t seed = 1000;
  for (const ReorderRow& row : kRegistry) {
    if (!row_available(row)) continue;
    for (int es : kElemSizes)
      for (Format fs : kFormats)
        for (Format fd : kFormats)
          for (std::int64_t s : {16 * 8 + 2, 16 * 16 + 1}) {  // 64-point byte tiles too
            ReorderDesc d;
            d.src = fs;
            d.dst = fd;
            d.elem_size = es;
            d.N = 2;
            d.C = 35;
            d.S = s;
            if (row.supports(d)) check_row(row, d, seed++);
          }
  }
}

TEST_CASE("reorder kernels: every element size has a row beyond ref on AVX-512 machines") {
  if (!medkern::cpu_info().supports(medkern::Isa::avx512)) {
    MESSAGE("skipping: CPU lacks avx512");
    return;
  }
  for (int es : kElemSizes) {
    ReorderDesc d;
    d.elem_size = es;
    d.N = d.C = d.S = 1;
    const ReorderRow* r = medkern::select(kRegistry, d, medkern::Isa::avx512);
    REQUIRE(r != nullptr);
    CHECK(r->isa == medkern::Isa::avx512);
  }
}

// ---------------------------------------------------------------------------------------------
// Op level: reorder() with TensorViews, 2-D and 3-D, every dtype.

namespace {

constexpr DType kDTypes[] = {DType::f32, DType::bf16, DType::s8, DType::u8, DType::s32};

TensorView view(void* p, DType t, const std::vector<std::int64_t>& shape) {
  TensorView v;
  v.data = p;
  v.dtype = t;
  v.rank = int(shape.size());
  for (std::size_t i = 0; i < shape.size(); ++i) v.shape[i] = shape[i];
  v.set_contiguous_strides();
  return v;
}

std::int64_t prod(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}

/// plain -> blocked -> plain through the op: identity, padding lanes zero, guards intact; and
/// the blocked tensor equals what the ref kernel produces.
void round_trip(DType t, Layout plain, const std::vector<std::int64_t>& logical,
                std::uint64_t seed) {
  const std::int64_t es = std::int64_t(medkern::dtype_size(t));
  const Layout blocked = medkern::ops::blocked_layout(plain);
  const auto ps = medkern::ops::layout_shape(plain, logical);
  const auto bs = medkern::ops::layout_shape(blocked, logical);
  Buf x(prod(ps) * es, es), y(prod(bs) * es, es), z(prod(ps) * es, es), r(prod(bs) * es, 0);
  x.randomize(seed);
  medkern::ops::reorder(view(x.data(), t, ps), plain, view(y.data(), t, bs), blocked);
  medkern::ops::reorder(view(y.data(), t, bs), blocked, view(z.data(), t, ps), plain);
  std::string where = std::string(medkern::ops::layout_name(plain)) + " " +
                      medkern::ops::detail::dims_str(logical) + " " +
                      std::string(medkern::dtype_name(t)) + " seed=" + std::to_string(seed);
  INFO(where);
  CHECK(std::memcmp(x.data(), z.data(), std::size_t(x.bytes)) == 0);
  CHECK(y.guard_intact());
  CHECK(z.guard_intact());
  // Against the ref kernel, run directly over the same problem.
  ReorderDesc d;
  d.src = medkern::ops::layout_format(plain);
  d.dst = Format::blocked16;
  d.elem_size = int(es);
  d.N = logical[0];
  d.C = logical[1];
  d.S = prod(logical) / (d.N * d.C);
  const ReorderRow& ref = kRegistry.back();
  run_all(ref, d, x.data(), r.data(), 0);
  CHECK(std::memcmp(y.data(), r.data(), std::size_t(y.bytes)) == 0);
  // Padding lanes are zero.
  bool pad_zero = true;
  for (std::int64_t i = 0; i < prod(bs); ++i) {
    const std::int64_t lane = i % 16, blk = (i / 16 / d.S) % d.blocks();
    if (blk * 16 + lane >= d.C)
      for (std::int64_t b = 0; b < es; ++b) pad_zero = pad_zero && y.data()[i * es + b] == 0;
  }
  CHECK(pad_zero);
}

}  // namespace

TEST_CASE("reorder op: 2-D round trips nchw/nhwc <-> nchw16c for every dtype") {
  const std::vector<std::vector<std::int64_t>> hw = {{1, 1}, {7, 1}, {1, 16}, {17, 1},
                                                     {31, 1}, {4, 4}, {7, 7}, {5, 13}};
  std::uint64_t seed = 5000;
  for (DType t : kDTypes)
    for (Layout plain : {Layout::nchw, Layout::nhwc})
      for (std::int64_t n : kBatches)
        for (std::int64_t c : kChannels)
          for (const auto& s : hw) round_trip(t, plain, {n, c, s[0], s[1]}, seed++);
}

TEST_CASE("reorder op: 3-D round trips ncdhw/ndhwc <-> ncdhw16c for every dtype") {
  const std::vector<std::vector<std::int64_t>> dhw = {
      {1, 1, 1}, {1, 7, 1}, {1, 4, 4}, {1, 1, 17}, {31, 1, 1}, {2, 3, 5}, {3, 4, 5}};
  std::uint64_t seed = 9000;
  for (DType t : kDTypes)
    for (Layout plain : {Layout::ncdhw, Layout::ndhwc})
      for (std::int64_t n : kBatches)
        for (std::int64_t c : kChannels)
          for (const auto& s : dhw) round_trip(t, plain, {n, c, s[0], s[1], s[2]}, seed++);
}

TEST_CASE("reorder op: large problem split over many tasks matches ref") {
  // 2 x 40 x 96 x 97: several spatial chunks per block, a channel tail and a spatial tail.
  for (DType t : {DType::f32, DType::bf16, DType::u8}) {
    round_trip(t, Layout::nchw, {2, 40, 96, 97}, 77);
    round_trip(t, Layout::nhwc, {2, 40, 96, 97}, 78);
  }
}

TEST_CASE("reorder op: nchw <-> nhwc and blocked -> blocked") {
  const std::vector<std::int64_t> logical = {3, 17, 5, 7};
  const auto a = medkern::ops::layout_shape(Layout::nchw, logical);
  const auto b = medkern::ops::layout_shape(Layout::nhwc, logical);
  const auto k = medkern::ops::layout_shape(Layout::nchw16c, logical);
  std::vector<float> x(std::size_t(prod(a))), y(std::size_t(prod(b))), z(std::size_t(prod(a)));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.5f - 3.f;
  medkern::ops::reorder(view(x.data(), DType::f32, a), Layout::nchw, view(y.data(), DType::f32, b),
                        Layout::nhwc);
  // (n, c, h, w) -> nhwc index
  bool ok = true;
  for (std::int64_t n = 0; n < 3; ++n)
    for (std::int64_t c = 0; c < 17; ++c)
      for (std::int64_t s = 0; s < 35; ++s)
        ok = ok && y[std::size_t((n * 35 + s) * 17 + c)] == x[std::size_t((n * 17 + c) * 35 + s)];
  CHECK(ok);
  medkern::ops::reorder(view(y.data(), DType::f32, b), Layout::nhwc, view(z.data(), DType::f32, a),
                        Layout::nchw);
  CHECK(x == z);
  std::vector<float> k1(std::size_t(prod(k))), k2(std::size_t(prod(k)), 1.f);
  medkern::ops::reorder(view(x.data(), DType::f32, a), Layout::nchw,
                        view(k1.data(), DType::f32, k), Layout::nchw16c);
  medkern::ops::reorder(view(k1.data(), DType::f32, k), Layout::nchw16c,
                        view(k2.data(), DType::f32, k), Layout::nchw16c);
  CHECK(k1 == k2);
}

TEST_CASE("reorder op: shape helpers") {
  using V = std::vector<std::int64_t>;
  CHECK(medkern::ops::blocked_shape({1, 17, 5, 7}) == V{1, 2, 5, 7, 16});
  CHECK(medkern::ops::blocked_shape({2, 16, 3, 5, 7}) == V{2, 1, 3, 5, 7, 16});
  CHECK(medkern::ops::blocked_shape({2, 0, 3, 5}) == V{2, 0, 3, 5, 16});
  CHECK(medkern::ops::layout_shape(Layout::ndhwc, {2, 3, 4, 5, 6}) == V{2, 4, 5, 6, 3});
  CHECK(medkern::ops::logical_shape(Layout::nchw16c, {1, 3, 5, 7, 16}, 33) == V{1, 33, 5, 7});
  CHECK(medkern::ops::parse_layout("ncdhw16c") == Layout::ncdhw16c);
  CHECK_FALSE(medkern::ops::parse_layout("nchw8c").has_value());
  CHECK_THROWS_AS(medkern::ops::blocked_shape({1, 2, 3}), ShapeError);
  CHECK_THROWS_AS(medkern::ops::blocked_shape({1, -2, 3, 3}), ShapeError);
  CHECK_THROWS_AS(medkern::ops::logical_shape(Layout::nchw16c, {1, 3, 5, 7, 16}, 17), ShapeError);
  CHECK_THROWS_AS(medkern::ops::logical_shape(Layout::nchw16c, {1, 3, 5, 7, 8}), ShapeError);
}

TEST_CASE("reorder op: zero-size dimensions return without touching memory") {
  std::vector<float> dummy(4, 7.f);
  for (const auto& logical : std::vector<std::vector<std::int64_t>>{
           {0, 3, 4, 4}, {2, 0, 4, 4}, {2, 3, 0, 4}, {2, 3, 4, 0}}) {
    const auto p = medkern::ops::layout_shape(Layout::nchw, logical);
    const auto b = medkern::ops::layout_shape(Layout::nchw16c, logical);
    CHECK_NOTHROW(medkern::ops::reorder(view(dummy.data(), DType::f32, p), Layout::nchw,
                                        view(dummy.data() + 2, DType::f32, b), Layout::nchw16c));
  }
  CHECK(dummy == std::vector<float>(4, 7.f));
}

TEST_CASE("reorder op: bad input is a ShapeError naming the rule") {
  std::vector<float> a(1 * 17 * 5 * 7), b(1 * 2 * 5 * 7 * 16);
  std::vector<std::uint16_t> h(b.size());
  const std::vector<std::int64_t> ps = {1, 17, 5, 7}, bs = {1, 2, 5, 7, 16};
  auto src = view(a.data(), DType::f32, ps);
  auto dst = view(b.data(), DType::f32, bs);
  using medkern::ops::reorder;
  CHECK_NOTHROW(reorder(src, Layout::nchw, dst, Layout::nchw16c));

  SUBCASE("wrong rank") {
    CHECK_THROWS_AS(reorder(view(a.data(), DType::f32, {17, 5, 7}), Layout::nchw, dst,
                            Layout::nchw16c),
                    ShapeError);
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 2, 35, 16}),
                            Layout::nchw16c),
                    ShapeError);
  }
  SUBCASE("2-D layout paired with 3-D layout") {
    CHECK_THROWS_AS(reorder(src, Layout::nchw, dst, Layout::ncdhw16c), ShapeError);
  }
  SUBCASE("mismatched shapes") {
    // too few blocks for 17 channels
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 1, 5, 7, 16}),
                            Layout::nchw16c),
                    ShapeError);
    // too many blocks
    std::vector<float> big(1 * 3 * 5 * 7 * 16);
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(big.data(), DType::f32, {1, 3, 5, 7, 16}),
                            Layout::nchw16c),
                    ShapeError);
    // spatial mismatch
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 2, 7, 5, 16}),
                            Layout::nchw16c),
                    ShapeError);
    // lane dimension not 16
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 4, 5, 7, 8}),
                            Layout::nchw16c),
                    ShapeError);
    // blocked -> plain with a channel count the blocks cannot hold
    CHECK_THROWS_AS(reorder(dst, Layout::nchw16c, view(a.data(), DType::f32, {1, 33, 5, 7}),
                            Layout::nchw),
                    ShapeError);
    // plain -> plain channel mismatch
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 5, 7, 16}),
                            Layout::nhwc),
                    ShapeError);
    // batch mismatch
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(b.data(), DType::f32, {2, 1, 5, 7, 16}),
                            Layout::nchw16c),
                    ShapeError);
  }
  SUBCASE("dtype mismatch") {
    CHECK_THROWS_AS(reorder(src, Layout::nchw, view(h.data(), DType::bf16, bs), Layout::nchw16c),
                    ShapeError);
  }
  SUBCASE("non-contiguous") {
    TensorView strided = src;
    strided.strides[3] = 8;  // every other float
    CHECK_THROWS_AS(reorder(strided, Layout::nchw, dst, Layout::nchw16c), ShapeError);
    TensorView strided_dst = dst;
    strided_dst.strides[0] *= 2;
    strided_dst.shape[0] = 1;  // a single image: stride of a size-1 dim does not matter
    CHECK_NOTHROW(reorder(src, Layout::nchw, strided_dst, Layout::nchw16c));
    strided_dst.strides[1] = 4 * 16 * 35 * 2;
    try {
      reorder(src, Layout::nchw, strided_dst, Layout::nchw16c);
      FAIL("expected a ShapeError");
    } catch (const ShapeError& e) {
      CHECK(std::string(e.what()).find("contiguous") != std::string::npos);
    }
  }
  SUBCASE("negative size") {
    CHECK_THROWS_AS(reorder(view(a.data(), DType::f32, {1, -17, 5, 7}), Layout::nchw, dst,
                            Layout::nchw16c),
                    ShapeError);
  }
  SUBCASE("overlapping src and dst") {
    std::vector<float> one(2 * 16 * 5 * 7 * 16);
    CHECK_THROWS_AS(reorder(view(one.data(), DType::f32, ps), Layout::nchw,
                            view(one.data() + 100, DType::f32, bs), Layout::nchw16c),
                    ShapeError);
  }
  SUBCASE("messages name the op and the values") {
    try {
      reorder(src, Layout::nchw, view(b.data(), DType::f32, {1, 1, 5, 7, 16}), Layout::nchw16c);
      FAIL("expected a ShapeError");
    } catch (const ShapeError& e) {
      const std::string m = e.what();
      CHECK(m.rfind("reorder: ", 0) == 0);
      CHECK(m.find("1x1x5x7x16") != std::string::npos);
      CHECK(m.find("1x2x5x7x16") != std::string::npos);  // the expected shape
    }
  }
}
