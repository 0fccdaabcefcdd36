// medkern/core/verbose.hpp — MEDKERN_VERBOSE=1 logs each kernel choice with its problem.
//
// One line per call on stderr, comma separated like oneDNN's verbose mode:
//   medkern_verbose,<op>,<implementation>,<problem>,<time_ms>
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace medkern {

inline bool verbose_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("MEDKERN_VERBOSE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return on;
}

/// Writes one verbose line; `ms` < 0 omits the time.
inline void verbose_log(const char* op, const char* impl, const std::string& problem,
                        double ms = -1.0) {
  if (ms >= 0)
    std::fprintf(stderr, "medkern_verbose,%s,%s,%s,%.4f\n", op, impl, problem.c_str(), ms);
  else
    std::fprintf(stderr, "medkern_verbose,%s,%s,%s\n", op, impl, problem.c_str());
}

/// Times a scope and logs it when verbose mode is on.
class VerboseScope {
 public:
  /// `describe()` returns the problem string; it is called only when verbose mode is on,
  /// so the hot path pays nothing for formatting.
  template <class Describe>
  VerboseScope(const char* op, const char* impl, Describe&& describe)
      : on_(verbose_enabled()), op_(op), impl_(impl) {
    if (!on_) return;
    problem_ = describe();
    t0_ = std::chrono::steady_clock::now();
  }
  ~VerboseScope() {
    if (!on_) return;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    verbose_log(op_, impl_, problem_, ms);
  }
  VerboseScope(const VerboseScope&) = delete;
  VerboseScope& operator=(const VerboseScope&) = delete;

 private:
  bool on_;
  const char* op_;
  const char* impl_;
  std::string problem_;
  std::chrono::steady_clock::time_point t0_{};
};

}  // namespace medkern
