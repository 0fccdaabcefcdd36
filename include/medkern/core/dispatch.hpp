// medkern/core/dispatch.hpp — the active ISA (detected once, capped by the user) and
// registry selection.
//
// The cap comes from MEDKERN_MAX_ISA or set_max_isa(). It must be fixed before the first
// kernel runs: a cap that changed afterwards would make one process mix code paths, so a late
// set_max_isa() is an error rather than a silent partial effect. Tests never touch this
// global; they call registry rows directly.
#pragma once

#include <array>
#include <cstdlib>
#include <mutex>
#include <string>

#include "medkern/core/cpu.hpp"
#include "medkern/core/error.hpp"
#include "medkern/core/isa.hpp"

namespace medkern {
namespace detail {

struct IsaState {
  std::mutex mu;
  bool frozen = false;         // a kernel has been selected with the current cap
  bool cap_from_env_read = false;
  Isa cap = Isa::amx;          // highest level the user allows
};

inline IsaState& isa_state() {
  static IsaState s;
  return s;
}

inline void read_env_cap_locked(IsaState& s) {
  if (s.cap_from_env_read) return;
  s.cap_from_env_read = true;
  const char* env = std::getenv("MEDKERN_MAX_ISA");
  if (env == nullptr || *env == '\0') return;
  const auto parsed = parse_isa(env);
  if (!parsed)
    throw_shape("MEDKERN_MAX_ISA: unknown ISA '", env, "' (valid: ", isa_names_list(), ")");
  s.cap = *parsed;
}

inline Isa min_isa(Isa a, Isa b) { return static_cast<int>(a) < static_cast<int>(b) ? a : b; }

}  // namespace detail

/// The ISA kernels use from now on; the first call fixes the cap for the process.
inline Isa active_isa() {
  auto& s = detail::isa_state();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::read_env_cap_locked(s);
  s.frozen = true;
  return detail::min_isa(s.cap, cpu_info().best_isa());
}

/// The ISA active_isa() would return, without fixing the cap (for reports such as info()).
inline Isa effective_isa() {
  auto& s = detail::isa_state();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::read_env_cap_locked(s);
  return detail::min_isa(s.cap, cpu_info().best_isa());
}

/// The user cap (MEDKERN_MAX_ISA or set_max_isa), before intersecting with the CPU.
inline Isa max_isa() {
  auto& s = detail::isa_state();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::read_env_cap_locked(s);
  return s.cap;
}

/// Caps the ISA to emulate an older CPU generation. Must precede the first kernel call.
inline void set_max_isa(Isa cap) {
  auto& s = detail::isa_state();
  std::lock_guard<std::mutex> lock(s.mu);
  detail::read_env_cap_locked(s);
  if (s.frozen && cap != s.cap)
    detail::throw_unsupported("set_max_isa: cannot change the ISA cap from '", isa_name(s.cap),
                              "' to '", isa_name(cap),
                              "' after the first kernel call (set it at start-up, or set "
                              "MEDKERN_MAX_ISA before the process starts)");
  s.cap = cap;
}

/// Same, by name; an unknown name is a ShapeError listing the valid ones.
inline void set_max_isa(const std::string& name) {
  const auto parsed = parse_isa(name);
  if (!parsed)
    detail::throw_shape("set_max_isa: unknown ISA '", name, "' (valid: ", isa_names_list(), ")");
  set_max_isa(*parsed);
}

/// ISAs this CPU supports, lowest first.
inline std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa i : kAllIsas)
    if (cpu_info().supports(i)) out.push_back(i);
  return out;
}

/// First row of `registry` (ordered best first) whose ISA is within `active` and supported by
/// the CPU, and whose `supports(desc)` accepts; nullptr when none does.
template <class Row, std::size_t N, class Desc>
const Row* select(const std::array<Row, N>& registry, const Desc& desc, Isa active) {
  for (const Row& row : registry) {
    if (static_cast<int>(row.isa) > static_cast<int>(active)) continue;
    if (!cpu_info().supports(row.isa)) continue;
    if (row.supports != nullptr && !row.supports(desc)) continue;
    return &row;
  }
  return nullptr;
}

}  // namespace medkern
