#include "sys/log_limit.hpp"

namespace ecifs::sys {

LogLimiter::LogLimiter(std::size_t burst, Clock::duration window, std::size_t max_keys)
    : burst_(burst), window_(window), max_keys_(max_keys) {}

LogLimiter::Decision LogLimiter::admit(const std::string& key, Clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = states_.find(key);
    if (it == states_.end()) {
        if (states_.size() >= max_keys_) {
            states_.erase(by_age_.back());
            by_age_.pop_back();
        }
        by_age_.push_front(key);
        it = states_.emplace(key, State{now, 0, 0, by_age_.begin()}).first;
    } else {
        by_age_.splice(by_age_.begin(), by_age_, it->second.age);
    }
    State& state = it->second;
    if (now - state.window_start >= window_) {
        state.window_start = now;
        state.logged = 0;
    }
    if (state.logged >= burst_) {
        ++state.left_out;
        return {};
    }
    ++state.logged;
    return {true, std::exchange(state.left_out, 0)};
}

LogLimiter& container_log_limiter() {
    static LogLimiter limiter(20, std::chrono::minutes(1));
    return limiter;
}

}  // namespace ecifs::sys
