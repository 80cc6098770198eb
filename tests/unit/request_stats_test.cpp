// A mount's request figures (fs/request_stats.hpp) and their Prometheus text
// (control/prometheus.hpp).
#include "fs/request_stats.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control/prometheus.hpp"

namespace ecifs::fs {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, QuantilesAreTheUpperBoundOfTheirQuarterOctave) {
    LatencyHistogram h;
    for (int i = 0; i < 98; ++i) h.add(microseconds(100));
    h.add(microseconds(10'000));
    h.add(microseconds(10'000));
    EXPECT_EQ(h.count(), 100u);
    // 100 µs lies in [2^6.5, 2^6.75): 90.5 .. 107.6 µs.
    EXPECT_NEAR(h.quantile_us(0.5), 107.6, 0.1);
    EXPECT_NEAR(h.quantile_us(0.98), 107.6, 0.1);
    EXPECT_GE(h.quantile_us(0.99), 10'000);
    EXPECT_LT(h.quantile_us(0.99), 10'000 * 1.19);
    EXPECT_NEAR(h.sum_seconds(), 0.0298, 1e-9);
}

TEST(LatencyHistogram, EmptyAndExtremes) {
    LatencyHistogram h;
    EXPECT_EQ(h.quantile_us(0.5), 0);
    h.add(std::chrono::nanoseconds(10));  // under 1 µs: the first bucket
    h.add(std::chrono::hours(1));         // past the last: the last
    EXPECT_NEAR(h.quantile_us(0.5), 1.19, 0.01);
    EXPECT_GE(h.quantile_us(1.0), 67e6);
}

TEST(RequestStats, CountsPerFileAndKindLatencyPerKind) {
    RequestStats stats;
    const auto t = RequestStats::Clock::now();
    stats.record({5, ""}, RequestKind::open, t, 0);
    stats.record({5, ""}, RequestKind::open, t, 0);
    stats.record({5, ""}, RequestKind::write, t, EINVAL);
    stats.record({7, "kernel/panic"}, RequestKind::open, t, ENOENT);
    const auto snap = stats.snapshot();
    ASSERT_EQ(snap.files.size(), 2u);
    const auto open = static_cast<size_t>(RequestKind::open), write = static_cast<size_t>(RequestKind::write);
    EXPECT_EQ(snap.files[0].first, (FileKey{5, ""}));
    EXPECT_EQ(snap.files[0].second.answered[open], 2u);
    EXPECT_EQ(snap.files[0].second.errors[open], 0u);
    EXPECT_EQ(snap.files[0].second.errors[write], 1u);
    EXPECT_EQ(snap.files[1].first, (FileKey{7, "kernel/panic"}));
    EXPECT_EQ(snap.files[1].second.errors[open], 1u);
    EXPECT_EQ(snap.latency[open].count(), 3u);
    EXPECT_EQ(snap.latency[write].count(), 1u);
    EXPECT_EQ(snap.latency[static_cast<size_t>(RequestKind::read)].count(), 0u);
    EXPECT_STREQ(kind_name(RequestKind::write), "write");
}

TEST(RequestStats, FilesAreCappedAndTheRestCountedTogether) {
    // A container making names without end (or a kernel forgetting inodes under memory
    // pressure) must not grow the table without end.
    RequestStats stats;
    const auto t = RequestStats::Clock::now();
    for (size_t i = 0; i < RequestStats::max_files + 500; ++i)
        stats.record({7, "net/ipv4/conf/if" + std::to_string(i) + "/forwarding"}, RequestKind::open, t, 0);
    stats.record({7, "net/ipv4/conf/if0/forwarding"}, RequestKind::open, t, 0);  // a kept file goes on counting
    const auto snap = stats.snapshot();
    ASSERT_EQ(snap.files.size(), RequestStats::max_files + 1);
    const auto open = static_cast<size_t>(RequestKind::open);
    EXPECT_EQ(snap.files.front().first, FileKey{});
    EXPECT_EQ(snap.files.front().second.answered[open], 500u);
    EXPECT_EQ(snap.files[1].first, (FileKey{7, "net/ipv4/conf/if0/forwarding"}));
    EXPECT_EQ(snap.files[1].second.answered[open], 2u);
}

}  // namespace
}  // namespace ecifs::fs

namespace ecifs::control {
namespace {

nlohmann::json a_stats_reply() {
    return nlohmann::json::parse(R"({
      "daemon": {"pid": 42, "rss_bytes": 7340032, "fds": 12, "threads": 3, "uptime_seconds": 61.5},
      "containers": [{
        "id": "web\"1",
        "views": [{"path": "/proc/meminfo", "answered": 4, "errors": 1,
                   "requests": {"open": {"answered": 2, "errors": 0}, "read": {"answered": 2, "errors": 1}}}],
        "latency": {"open": {"answered": 2, "p50_us": 90.5, "p99_us": 128, "seconds": 0.0003}},
        "open_files": 1, "open_dirs": 0, "namespace_executors": 2, "seccomp_notify_fds": 1,
        "trapped_calls": {"answered": 5, "continued": 0, "failed": 0}}]})");
}

TEST(Prometheus, EveryFigureIsASampleUnderItsFamily) {
    const std::string text = prometheus_text(a_stats_reply());
    auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
    EXPECT_TRUE(has("# TYPE ecifs_daemon_rss_bytes gauge"));
    EXPECT_TRUE(has("ecifs_daemon_rss_bytes 7340032"));
    EXPECT_TRUE(has("ecifs_daemon_uptime_seconds 61.5"));
    // The container id's quote is escaped in the label.
    EXPECT_TRUE(has(R"(ecifs_requests_total{container="web\"1",view="/proc/meminfo",kind="open"} 2)"));
    EXPECT_TRUE(has(R"(ecifs_request_errors_total{container="web\"1",view="/proc/meminfo",kind="read"} 1)"));
    EXPECT_TRUE(has("# TYPE ecifs_request_duration_seconds summary"));
    EXPECT_TRUE(has(R"(ecifs_request_duration_seconds{container="web\"1",kind="open",quantile="0.99"} 0.000128)"));
    EXPECT_TRUE(has(R"(ecifs_request_duration_seconds_count{container="web\"1",kind="open"} 2)"));
    EXPECT_TRUE(has(R"(ecifs_trapped_calls_total{container="web\"1",result="answered"} 5)"));
    EXPECT_TRUE(has(R"(ecifs_namespace_executors{container="web\"1"} 2)"));
    // One HELP and one TYPE per family, before its samples.
    EXPECT_EQ(text.find("# TYPE ecifs_requests_total"), text.rfind("# TYPE ecifs_requests_total"));
    EXPECT_LT(text.find("# TYPE ecifs_requests_total"), text.find("ecifs_requests_total{"));
}

TEST(Prometheus, NotAStatsReplyIsAnError) {
    EXPECT_THROW(prometheus_text(nlohmann::json{{"containers", nlohmann::json::array()}}), std::invalid_argument);
    EXPECT_THROW(prometheus_text(nlohmann::json::parse(R"({"daemon": {}, "containers": [{"id": "x"}]})")),
                 std::invalid_argument);
}

}  // namespace
}  // namespace ecifs::control
