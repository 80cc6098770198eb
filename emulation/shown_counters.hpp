#pragma once
// Counter lines a view last showed, kept so that the next rendering can keep every
// counter from going backwards (handlers/stat.cpp's CPU lines; the kernel's own
// prev_cputime plays this part for a task's utime and stime).
#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

namespace ecifs::emulation {

class ShownCounters {
public:
    using Line = std::array<uint64_t, 10>;  // a /proc/stat cpu line's ten counters

    // Calls `next(last)` with the lines shown last (empty at first), keeps what it returns
    // and returns it. Renderings are thereby ordered: one that read its figures earlier
    // but comes later still starts from what was shown since. Thread-safe.
    template <class Next>
    std::vector<Line> advance(Next&& next) {
        std::lock_guard lock(mutex_);
        last_ = std::forward<Next>(next)(std::span<const Line>(last_));
        return last_;
    }

private:
    std::mutex mutex_;
    std::vector<Line> last_;
};

}  // namespace ecifs::emulation
