#pragma once
// The bounded table behind NsExecutors (executor.hpp), apart from processes so that it
// can be tested alone: at most `cap` values, the least recently used one evicted when a
// new key needs room, and a value started outside the table's lock, once per key.
//
// A Value has `bool alive() const` that never blocks. A value the table lets go of (an
// evicted, dead, idle or cleared one) is destroyed by whoever drops the last reference
// to it: the table's caller, outside the lock, or a request still using it.
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace ecifs::ns {

template <typename Key, typename Value>
class ExecutorTable {
public:
    using Clock = std::chrono::steady_clock;
    using Start = std::function<std::shared_ptr<Value>()>;

    explicit ExecutorTable(std::size_t cap) : cap_(cap ? cap : 1) {}

    // The live value of `key`, or a new one from `start`. `start` runs without the
    // table's lock: a slow start stalls only the askers of the same key, who wait for
    // that one start (and get its exception if it throws), not for the whole table.
    std::shared_ptr<Value> get(const Key& key, const Start& start) {
        std::vector<std::shared_ptr<Value>> dropped;  // destroyed after the lock is released
        std::unique_lock lock(mutex_);
        auto found = slots_.find(key);
        if (found != slots_.end()) {
            Slot& slot = found->second;
            slot.used = Clock::now();
            if (slot.value && slot.value->alive()) return slot.value;
            if (slot.starting) {
                const auto waiting = slot.starting;
                lock.unlock();
                return waiting->future.get();
            }
        }
        Slot& slot = slots_[key];
        if (slot.value) dropped.push_back(std::move(slot.value));  // dead: replaced
        const auto starting = std::make_shared<Starting>();
        starting->future = starting->promise.get_future().share();
        slot.starting = starting;
        slot.used = Clock::now();
        evict_over_cap(key, dropped);
        lock.unlock();
        dropped.clear();
        return run_start(key, starting, start);
    }

    // Let go of the values unused for `idle`.
    void drop_idle(Clock::duration idle) {
        std::vector<std::shared_ptr<Value>> dropped;
        std::lock_guard lock(mutex_);
        const auto now = Clock::now();
        for (auto it = slots_.begin(); it != slots_.end();) {
            if (!it->second.starting && now - it->second.used > idle) {
                dropped.push_back(std::move(it->second.value));
                it = slots_.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Let go of every value (a start in progress still hands its value to its askers).
    void clear() {
        std::map<Key, Slot> all;
        std::lock_guard lock(mutex_);
        all.swap(slots_);
    }

    // Keys held, those being started included.
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return slots_.size();
    }

    std::size_t cap() const { return cap_; }

private:
    struct Starting {
        std::promise<std::shared_ptr<Value>> promise;
        std::shared_future<std::shared_ptr<Value>> future;
    };
    struct Slot {
        std::shared_ptr<Value> value;
        std::shared_ptr<Starting> starting;  // set while a start runs
        Clock::time_point used;
    };

    // Make room: the least recently used started values go, never `key` nor a value
    // being started (those are bounded by the threads asking).
    void evict_over_cap(const Key& key, std::vector<std::shared_ptr<Value>>& dropped) {
        while (slots_.size() > cap_) {
            auto oldest = slots_.end();
            for (auto it = slots_.begin(); it != slots_.end(); ++it) {
                if (it->first == key || it->second.starting) continue;
                if (oldest == slots_.end() || it->second.used < oldest->second.used) oldest = it;
            }
            if (oldest == slots_.end()) return;
            dropped.push_back(std::move(oldest->second.value));
            slots_.erase(oldest);
        }
    }

    std::shared_ptr<Value> run_start(const Key& key, const std::shared_ptr<Starting>& starting, const Start& start) {
        std::shared_ptr<Value> value;
        try {
            value = start();
        } catch (...) {
            finish(key, starting, nullptr);
            starting->promise.set_exception(std::current_exception());
            throw;
        }
        finish(key, starting, value);
        starting->promise.set_value(value);
        return value;
    }

    // Settle the slot of this start, unless it was let go of (cleared) meanwhile: then
    // the value lives only as long as its askers hold it.
    void finish(const Key& key, const std::shared_ptr<Starting>& starting, std::shared_ptr<Value> value) {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(key);
        if (it == slots_.end() || it->second.starting != starting) return;
        if (!value) {
            slots_.erase(it);
            return;
        }
        it->second.value = std::move(value);
        it->second.starting.reset();
    }

    const std::size_t cap_;
    mutable std::mutex mutex_;
    std::map<Key, Slot> slots_;
};

}  // namespace ecifs::ns
