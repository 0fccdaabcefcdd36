// medkern/core/isa.hpp — the ISA lattice ref < avx2 < avx512 < avx512_vnni < avx512_bf16 < amx.
//
// Each level includes everything below it. The tag types select kernel specialisations
// (`impl<isa::avx512_t>`); the enum is what dispatch compares.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace medkern {

enum class Isa : std::uint8_t { ref = 0, avx2, avx512, avx512_vnni, avx512_bf16, amx };

inline constexpr std::array<Isa, 6> kAllIsas = {Isa::ref,         Isa::avx2,        Isa::avx512,
                                                Isa::avx512_vnni, Isa::avx512_bf16, Isa::amx};

constexpr std::string_view isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::ref: return "ref";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_vnni: return "avx512_vnni";
    case Isa::avx512_bf16: return "avx512_bf16";
    case Isa::amx: return "amx";
  }
  return "?";
}

/// Parses an ISA name (case-sensitive, as isa_name prints it); nullopt when unknown.
constexpr std::optional<Isa> parse_isa(std::string_view s) noexcept {
  for (Isa i : kAllIsas)
    if (isa_name(i) == s) return i;
  return std::nullopt;
}

/// Comma-separated list of the valid names, for error messages.
inline std::string isa_names_list() {
  std::string s;
  for (Isa i : kAllIsas) {
    if (!s.empty()) s += ", ";
    s += isa_name(i);
  }
  return s;
}

namespace isa {
template <Isa I>
struct tag {
  static constexpr Isa value = I;
};
using ref_t = tag<Isa::ref>;
using avx2_t = tag<Isa::avx2>;
using avx512_t = tag<Isa::avx512>;
using avx512_vnni_t = tag<Isa::avx512_vnni>;
using avx512_bf16_t = tag<Isa::avx512_bf16>;
using amx_t = tag<Isa::amx>;
}  // namespace isa

}  // namespace medkern
