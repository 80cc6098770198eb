#pragma once
// Log lines a container can cause at will (a failing read, a refused mount, a bad
// request) are limited per key, a container and a message's site: `burst` lines in each
// `window`, then silence until the window ends; the next line logged says how many
// were left out. A flooding container fills no disk and hides no one else's lines.
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ecifs::sys {

class LogLimiter {
public:
    using Clock = std::chrono::steady_clock;

    struct Decision {
        bool log = false;
        std::size_t left_out = 0;  // lines of the key not logged since the last one that was
    };

    // At most `max_keys` keys are remembered; the least recently used is forgotten first.
    LogLimiter(std::size_t burst, Clock::duration window, std::size_t max_keys = 4096);

    // Whether a line of `key` is logged now. Thread-safe.
    Decision admit(const std::string& key, Clock::time_point now = Clock::now());

private:
    struct State {
        Clock::time_point window_start;
        std::size_t logged = 0;    // in this window
        std::size_t left_out = 0;  // since the last logged line
        std::list<std::string>::iterator age;
    };

    const std::size_t burst_;
    const Clock::duration window_;
    const std::size_t max_keys_;
    std::mutex mutex_;
    std::unordered_map<std::string, State> states_;
    std::list<std::string> by_age_;  // most recently used first
};

// The daemon's limiter: 20 lines per key a minute.
LogLimiter& container_log_limiter();

// spdlog::log at `level`, if the limit of the key `scope` (a container, or who
// asked) and `site` (the message) allows. Nothing is built when `level` is off: some
// callers sit on the FUSE and notification paths.
template <typename... Args>
void log_limited(spdlog::level::level_enum level, std::string_view scope, std::string_view site,
                 fmt::format_string<Args...> format, Args&&... args) {
    if (!spdlog::should_log(level)) return;
    const auto decision = container_log_limiter().admit(fmt::format("{}|{}", scope, site));
    if (!decision.log) return;
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    if (decision.left_out) line += fmt::format(" ({} more like it left out)", decision.left_out);
    spdlog::log(level, "{}", line);
}

}  // namespace ecifs::sys
