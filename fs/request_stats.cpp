#include "fs/request_stats.hpp"

#include <algorithm>
#include <cmath>

namespace ecifs::fs {

const char* kind_name(RequestKind kind) {
    static constexpr const char* names[] = {"lookup", "getattr", "setattr", "opendir", "readdir", "releasedir",
                                            "readlink", "open", "read", "write", "flush", "release", "poll"};
    static_assert(std::size(names) == static_cast<size_t>(RequestKind::count));
    return names[static_cast<size_t>(kind)];
}

void LatencyHistogram::add(std::chrono::nanoseconds took) {
    const double us = std::max(1.0, static_cast<double>(took.count()) / 1000.0);
    const auto bucket = static_cast<size_t>(std::floor(std::log2(us) * 4));
    ++counts_[std::min(bucket, buckets - 1)];
    ++count_;
    sum_ns_ += static_cast<uint64_t>(std::max<int64_t>(0, took.count()));
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ns_ += other.sum_ns_;
}

double LatencyHistogram::quantile_us(double q) const {
    if (count_ == 0) return 0;
    // The smallest bucket holding at least q of the samples.
    const auto wanted = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets; ++i) {
        seen += counts_[i];
        if (seen >= std::max<uint64_t>(wanted, 1)) return std::exp2(static_cast<double>(i + 1) / 4);
    }
    return std::exp2(static_cast<double>(buckets) / 4);
}

void RequestFigures::merge(const RequestFigures& other) {
    answered += other.answered;
    errors += other.errors;
    latency.merge(other.latency);
}

void RequestStats::record(fuse_ino_t ino, RequestKind kind, Clock::time_point started, int err) {
    const auto took = Clock::now() - started;
    std::lock_guard lock(mutex_);
    auto it = figures_.find({ino, kind});
    if (it == figures_.end()) {
        if (figures_.size() >= max_rows) ino = others;
        it = figures_.try_emplace({ino, kind}).first;
    }
    auto& f = it->second;
    ++f.answered;
    if (err != 0) ++f.errors;
    f.latency.add(took);
}

std::vector<RequestStats::Row> RequestStats::rows() const {
    std::lock_guard lock(mutex_);
    std::vector<Row> out;
    out.reserve(figures_.size());
    for (const auto& [key, figures] : figures_) out.push_back({key.first, key.second, figures});
    return out;
}

}  // namespace ecifs::fs
