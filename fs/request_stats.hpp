#pragma once
// What one mount's requests did, for `ecifsctl stats`: per inode and per kind of
// request (open, read, ...), how many were answered, how many with an error, and how
// long each took from the operation's start to its reply, as a histogram of
// quarter-octave buckets (1 µs to ~70 s), so p50 and p99 come out within 19%.
// Recording is one short lock and a map lookup; the names are found only when asked.
#include <fuse_lowlevel.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ecifs::fs {

enum class RequestKind : uint8_t { lookup, getattr, setattr, opendir, readdir, releasedir, readlink, open, read, write,
                                   flush, release, poll, count };

const char* kind_name(RequestKind kind);

class LatencyHistogram {
public:
    static constexpr size_t buckets = 104;  // 4 per octave from 1 µs: the last is 2^26 µs (67 s) and above

    void add(std::chrono::nanoseconds took);
    void merge(const LatencyHistogram& other);
    uint64_t count() const { return count_; }
    double sum_seconds() const { return static_cast<double>(sum_ns_) / 1e9; }
    // The q-quantile (0..1) in microseconds: the upper bound of the bucket it falls in.
    double quantile_us(double q) const;

private:
    std::array<uint64_t, buckets> counts_{};
    uint64_t count_ = 0;
    uint64_t sum_ns_ = 0;
};

struct RequestFigures {
    uint64_t answered = 0;
    uint64_t errors = 0;  // answered with an errno (ENOENT of a lookup, EINVAL of a write, ...)
    LatencyHistogram latency;

    void merge(const RequestFigures& other);
};

class RequestStats {
public:
    using Clock = std::chrono::steady_clock;
    // Rows kept at most: run-time inodes are never reused, so a container making and
    // reading names without end (interfaces under /proc/sys/net) must not grow the
    // daemon without end. Past it, a new file's requests go to the row of inode 0.
    static constexpr size_t max_rows = 2048;
    static constexpr fuse_ino_t others = 0;

    void record(fuse_ino_t ino, RequestKind kind, Clock::time_point started, int err);

    struct Row {
        fuse_ino_t ino;
        RequestKind kind;
        RequestFigures figures;
    };
    std::vector<Row> rows() const;

private:
    mutable std::mutex mutex_;
    std::map<std::pair<fuse_ino_t, RequestKind>, RequestFigures> figures_;
};

}  // namespace ecifs::fs
