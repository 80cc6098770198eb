#include "fs/request_stats.hpp"

#include <algorithm>
#include <cmath>

namespace ecifs::fs {

const char* kind_name(RequestKind kind) {
    static constexpr const char* names[] = {"lookup", "getattr", "setattr", "opendir", "readdir", "releasedir",
                                            "readlink", "open", "read", "write", "flush", "release", "poll"};
    static_assert(std::size(names) == request_kinds);
    return names[static_cast<size_t>(kind)];
}

void LatencyHistogram::add(std::chrono::nanoseconds took) {
    const double us = std::max(1.0, static_cast<double>(took.count()) / 1000.0);
    const auto bucket = static_cast<size_t>(std::floor(std::log2(us) * 4));
    ++counts_[std::min(bucket, buckets - 1)];
    ++count_;
    sum_ns_ += static_cast<uint64_t>(std::max<int64_t>(0, took.count()));
}

double LatencyHistogram::quantile_us(double q) const {
    if (count_ == 0) return 0;
    // The smallest bucket holding at least q of the samples.
    const auto wanted = std::max<uint64_t>(static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))), 1);
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets; ++i) {
        seen += counts_[i];
        if (seen >= wanted) return std::exp2(static_cast<double>(i + 1) / 4);
    }
    return std::exp2(static_cast<double>(buckets) / 4);
}

void RequestStats::record(const FileKey& file, RequestKind kind, Clock::time_point started, int err) {
    const auto took = Clock::now() - started;
    const auto k = static_cast<size_t>(kind);
    std::lock_guard lock(mutex_);
    auto it = files_.find(file);
    if (it == files_.end()) it = files_.try_emplace(files_.size() < max_files ? file : FileKey{}).first;
    ++it->second.answered[k];
    if (err != 0) ++it->second.errors[k];
    if (!latency_[k]) latency_[k] = std::make_unique<LatencyHistogram>();
    latency_[k]->add(took);
}

RequestStats::Snapshot RequestStats::snapshot() const {
    Snapshot out;
    std::lock_guard lock(mutex_);
    out.files.assign(files_.begin(), files_.end());
    for (size_t k = 0; k < request_kinds; ++k)
        if (latency_[k]) out.latency[k] = *latency_[k];
    return out;
}

}  // namespace ecifs::fs
