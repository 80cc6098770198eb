#pragma once
// What one mount's requests did, for `ecifsctl stats`: per file, how many requests of
// each kind (open, read, ...) were answered and how many with an error; per kind, how
// long they took from the operation's start to the reply, as a histogram of
// quarter-octave buckets (1 µs to ~67 s), so p50 and p99 come out within 19%.
// Recording is one short lock and a map lookup. A file is a static node's inode or, below
// a run-time subtree (/proc/sys), its root and path: those inodes are never reused, and
// a kernel under memory pressure forgets and looks them up again without end, which
// must not make new rows. At most max_files files are kept; past that, "others".
#include <fuse_lowlevel.h>

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ecifs::fs {

enum class RequestKind : uint8_t { lookup, getattr, setattr, opendir, readdir, releasedir, readlink, open, read, write,
                                   flush, release, poll, count };
constexpr size_t request_kinds = static_cast<size_t>(RequestKind::count);

const char* kind_name(RequestKind kind);

class LatencyHistogram {
public:
    static constexpr size_t buckets = 104;  // 4 per octave from 1 µs: the last is 2^26 µs (67 s) and above

    void add(std::chrono::nanoseconds took);
    uint64_t count() const { return count_; }
    double sum_seconds() const { return static_cast<double>(sum_ns_) / 1e9; }
    // The q-quantile (0..1) in microseconds: the upper bound of the bucket it falls in.
    double quantile_us(double q) const;

private:
    std::array<uint32_t, buckets> counts_{};
    uint64_t count_ = 0;
    uint64_t sum_ns_ = 0;
};

// A file of the mount: a static node's inode and an empty path, or a run-time subtree's
// root inode and the path below it. Inode 0: every file past the cap.
struct FileKey {
    fuse_ino_t ino = 0;
    std::string path;
    auto operator<=>(const FileKey&) const = default;
};

struct FileCounts {
    std::array<uint64_t, request_kinds> answered{}, errors{};
};

class RequestStats {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr size_t max_files = 256;

    void record(const FileKey& file, RequestKind kind, Clock::time_point started, int err);

    struct Snapshot {
        std::vector<std::pair<FileKey, FileCounts>> files;
        std::array<LatencyHistogram, request_kinds> latency;  // by kind, every file together
    };
    Snapshot snapshot() const;

private:
    mutable std::mutex mutex_;
    std::map<FileKey, FileCounts> files_;
    std::array<std::unique_ptr<LatencyHistogram>, request_kinds> latency_;  // made at a kind's first request
};

}  // namespace ecifs::fs
