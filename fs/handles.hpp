#pragma once
// The open files and directories of a mount, by the handle (fuse_file_info::fh) the
// kernel was given at OPEN or OPENDIR and sends back with every READ, READDIR and
// RELEASE. A handle is a number, never a pointer: the kernel keeps its handles across a
// restart of the daemon (docs/restart.md), and a new daemon must tell one it never gave
// from its own. Numbers start at the monotonic clock's nanoseconds when the table is
// made and count up one per open: a daemon started later starts above every number an
// earlier one gave (it could not open more than one file per nanosecond).
#include <time.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ecifs::fs {

template <typename T>
class Handles {
public:
    Handles() : next_(first_number()) {}

    uint64_t add(std::shared_ptr<T> item) {
        std::lock_guard lock(mutex_);
        const uint64_t fh = next_++;
        items_.emplace(fh, std::move(item));
        return fh;
    }
    // A handle some earlier daemon gave, taken on with what this one makes of it.
    void adopt(uint64_t fh, std::shared_ptr<T> item) {
        std::lock_guard lock(mutex_);
        items_.emplace(fh, std::move(item));
    }
    // Null for a handle this table does not hold.
    std::shared_ptr<T> find(uint64_t fh) const {
        std::lock_guard lock(mutex_);
        auto it = items_.find(fh);
        return it == items_.end() ? nullptr : it->second;
    }
    std::shared_ptr<T> take(uint64_t fh) {
        std::lock_guard lock(mutex_);
        auto it = items_.find(fh);
        if (it == items_.end()) return nullptr;
        auto item = std::move(it->second);
        items_.erase(it);
        return item;
    }
    size_t size() const {
        std::lock_guard lock(mutex_);
        return items_.size();
    }

private:
    static uint64_t first_number() {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec) + 1;
    }

    mutable std::mutex mutex_;
    uint64_t next_;
    std::unordered_map<uint64_t, std::shared_ptr<T>> items_;
};

}  // namespace ecifs::fs
